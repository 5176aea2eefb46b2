"""One training loop for every chapter: shuffled mini-batches from in-memory tensors, a step
function chosen by the caller, an evaluation hook after each epoch, a tqdm progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from robustbook._checks import check_int, check_nonempty, check_same_length, require

StepFn = Callable[[torch.Tensor, torch.Tensor], float]
EvalFn = Callable[[nn.Module], dict[str, float]]


@dataclass
class History:
    """Per-epoch records. ``metrics[name][e]`` is the value after epoch e (epoch 0 = before
    training); ``train_loss[e-1]`` the mean step loss during epoch e."""

    train_loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)

    def record(self, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.metrics.setdefault(k, []).append(float(v))

    def _values(self, name: str) -> list[float]:
        if name not in self.metrics:
            raise KeyError(f"no metric {name!r} recorded; known metrics: {sorted(self.metrics)}")
        return self.metrics[name]

    def best(self, name: str) -> tuple[float, int]:
        """(max value, epoch at which it was first reached): the early-stopped value."""
        values = self._values(name)
        require(len(values) > 0, f"metric {name!r} has no values recorded yet")
        epoch = max(range(len(values)), key=lambda e: (values[e], -e))
        return values[epoch], epoch

    def final(self, name: str) -> float:
        values = self._values(name)
        require(len(values) > 0, f"metric {name!r} has no values recorded yet")
        return values[-1]


def standard_step(model: nn.Module, optimizer: torch.optim.Optimizer,
                  loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> StepFn:
    """The ordinary ``step(xb, yb) -> loss``: zero grads, forward, backward, optimizer step."""

    def step(xb: torch.Tensor, yb: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def minibatches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Indices of one shuffled epoch over n examples, in batches (the last one may be smaller)."""
    check_int("n", n, minimum=0)
    check_int("batch_size", batch_size)
    order = torch.randperm(n, generator=generator)
    yield from order.split(batch_size)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    """Top-1 accuracy in [0, 1]; binary models (logits of shape (B,)) predict ``logit > 0``."""
    check_same_length(x=x, y=y)
    check_nonempty("y", y)
    check_int("batch_size", batch_size)
    was_training = model.training
    model.eval()
    correct = 0
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        logits = model(xb)
        pred = (logits > 0).long() if logits.ndim == 1 else logits.argmax(1)
        correct += int((pred == yb).sum())
    model.train(was_training)
    return correct / len(y)


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, step: StepFn, *, epochs: int,
        batch_size: int, generator: torch.Generator, evaluate: EvalFn | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        progress: bool | str = False) -> History:
    """Train ``model`` for ``epochs`` passes over (x, y) calling ``step(xb, yb) -> loss``.

    ``evaluate(model)`` runs before training and after every epoch; its dict goes to
    ``History.metrics``. ``transform(xb)`` (e.g. augmentation) is applied to each training batch.
    ``progress`` shows a tqdm bar (a string becomes its label).
    """
    check_int("epochs", epochs, minimum=0)
    check_int("batch_size", batch_size)
    check_same_length(x=x, y=y)
    require(epochs == 0 or len(x) > 0, "x must not be empty when training (epochs >= 1), got 0 examples")
    history = History()
    if evaluate is not None:
        history.record(evaluate(model))
    bar = tqdm(range(epochs), desc=progress if isinstance(progress, str) else None,
               disable=not progress, leave=False)
    for _ in bar:
        model.train()
        losses = []
        for idx in minibatches(len(x), batch_size, generator):
            xb = x[idx] if transform is None else transform(x[idx])
            losses.append(step(xb, y[idx]))
        history.train_loss.append(sum(losses) / len(losses))
        if evaluate is not None:
            history.record(evaluate(model))
            bar.set_postfix({k: f"{v[-1]:.3f}" for k, v in list(history.metrics.items())[:2]})
    return history
