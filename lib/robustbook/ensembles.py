"""Many small models trained at once: K copies of one architecture as stacked parameters, trained
with ``torch.func`` (``stack_module_state``, a ``vmap``-ed ``functional_call`` forward pass and one
backward pass for all K), for agreement studies.

Every model may have its own initialisation, data order, data subset and training length; these
are encoded in a :class:`Schedule` (which examples each model sees at each step, and whether it is
still training), so one vectorised step advances all K models. :func:`train_looped` is the plain
Python-loop reference (one ``torch.optim.SGD`` per model) that the batched trainer must match.

For agreement studies (Saxena et al., 2024): :func:`make_head` (a scaled linear probe),
:func:`epoch_grid` (training lengths that spread ID accuracy) and :func:`one_source_ensembles`
(ensembles whose members differ by exactly one source of randomness: head init, data order or
data subset).
"""

from __future__ import annotations

import copy
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from robustbook._checks import check_int, check_nonempty, check_number, check_same_length, require

Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Schedule:
    """``batches`` (K, S, B) int64: the training-example indices model k uses at step s;
    ``active`` (K, S) bool: whether model k takes step s (False once its epochs are done)."""

    batches: torch.Tensor
    active: torch.Tensor

    def __post_init__(self) -> None:
        require(self.batches.ndim == 3, f"Schedule batches must be (K models, S steps, B batch), got shape "
                                        f"{tuple(self.batches.shape)}")
        require(tuple(self.active.shape) == tuple(self.batches.shape[:2]),
                f"Schedule active must be (K, S) = {tuple(self.batches.shape[:2])} like batches, got shape "
                f"{tuple(self.active.shape)}")

    @property
    def n_models(self) -> int:
        return self.batches.shape[0]

    def steps(self) -> torch.Tensor:
        """(K,) number of steps each model takes."""
        return self.active.sum(dim=1)


def epoch_schedule(n: int, *, epochs: Sequence[int], batch_size: int, order_seeds: Sequence[int],
                   subsets: Sequence[torch.Tensor] | None = None) -> Schedule:
    """Mini-batch schedule for K = len(epochs) models over a training set of n examples.

    Model k trains ``epochs[k]`` epochs on ``subsets[k]`` (index tensor; default: all n), each epoch
    a fresh permutation from a generator seeded with ``order_seeds[k]``, in full batches of
    ``batch_size`` (a last partial batch is dropped). Models that finish early are padded with
    inactive steps. Equal ``order_seeds`` and subsets give identical data orders.
    """
    if not len(epochs) == len(order_seeds) == (len(subsets) if subsets is not None else len(epochs)):
        raise ValueError("epochs, order_seeds (and subsets) need one entry per model, got "
                         f"{len(epochs)} epochs, {len(order_seeds)} order_seeds"
                         + (f", {len(subsets)} subsets" if subsets is not None else ""))
    check_nonempty("epochs", epochs)
    check_int("n", n, minimum=0)
    check_int("batch_size", batch_size)
    for k, e in enumerate(epochs):
        check_int(f"epochs[{k}]", e, minimum=0)
    for k, sub in enumerate(subsets or ()):
        sub = torch.as_tensor(sub)
        ok = sub.ndim == 1 and (len(sub) == 0 or not (sub.is_floating_point() or sub.is_complex()))
        low, high = (int(sub.min()), int(sub.max())) if ok and len(sub) else (0, -1)
        require(ok and low >= 0 and high < n,
                f"subsets[{k}] must be a 1-D integer index tensor with entries in [0, n={n}), got "
                f"shape {tuple(sub.shape)}, dtype {sub.dtype}" + (f", range [{low}, {high}]" if ok else ""))
    per_model = []
    for k, n_epochs in enumerate(epochs):
        pool = torch.arange(n) if subsets is None else torch.as_tensor(subsets[k], dtype=torch.long)
        per_epoch = len(pool) // batch_size
        if per_epoch == 0:
            raise ValueError(f"model {k}: {len(pool)} examples cannot fill a batch of {batch_size}")
        gen = torch.Generator().manual_seed(int(order_seeds[k]))
        orders = [pool[torch.randperm(len(pool), generator=gen)][: per_epoch * batch_size]
                  for _ in range(n_epochs)]
        per_model.append(torch.cat(orders).view(-1, batch_size) if orders
                         else torch.zeros(0, batch_size, dtype=torch.long))
    total = max(max(len(b) for b in per_model), 1)
    batches = torch.zeros(len(epochs), total, batch_size, dtype=torch.long)
    active = torch.zeros(len(epochs), total, dtype=torch.bool)
    for k, b in enumerate(per_model):
        batches[k, : len(b)] = b
        active[k, : len(b)] = True
    return Schedule(batches, active)


def init_stacked(make_model: Callable[[], nn.Module], seeds: Sequence[int]) -> tuple[nn.Module, Params]:
    """K = len(seeds) freshly initialised models (torch seeded with ``seeds[k]`` before building
    model k), stacked: returns (a parameter-less template on the meta device, {name: (K, ...)})."""
    check_nonempty("seeds", seeds)
    models = []
    with torch.random.fork_rng(devices=[]):
        for seed in seeds:
            torch.manual_seed(int(seed))
            models.append(make_model())
    params, _ = stack_module_state(models)
    template = copy.deepcopy(models[0]).to("meta")
    return template, {name: p.detach().clone() for name, p in params.items()}


def _check_training(params: Params, x: torch.Tensor, y: torch.Tensor, schedule: Schedule, *,
                    lr: float, momentum: float, weight_decay: float) -> None:
    """The door checks of :func:`train_batched` and :func:`train_looped` (scalars and shapes)."""
    check_number("lr", lr, low=0)
    check_number("momentum", momentum, low=0)
    check_number("weight_decay", weight_decay, low=0)
    _check_params(params, schedule.n_models)
    check_same_length(x=x, y=y)
    if schedule.batches.numel():
        last = int(schedule.batches.max())
        require(last < len(x), f"schedule indexes example {last} but x has only {len(x)} examples")


def _check_params(params: Params, n_models: int | None = None) -> None:
    require(len(params) > 0, "params must hold at least one stacked parameter, got none")
    sizes = {name: p.shape[0] if p.ndim else None for name, p in params.items()}
    require(len(set(sizes.values())) == 1 and None not in sizes.values(),
            f"params must all be stacked (K, ...) with one K, got leading sizes {sizes}")
    if n_models is not None:
        k = next(iter(sizes.values()))
        require(k == n_models, f"params stack {k} models but the schedule plans {n_models}")


def _masked(mask: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, *[1] * (new.ndim - 1)), new, old)


def train_batched(template: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                  schedule: Schedule, *, lr: float, momentum: float = 0.0,
                  weight_decay: float = 0.0) -> Params:
    """Train K stacked models with SGD (``torch.optim.SGD`` semantics: d = g + wd p,
    buf = momentum buf + d, p -= lr buf) on cross-entropy, all K in one vmapped step.

    ``params``: {name: (K, ...)} (not modified); ``x`` (N, ...), ``y`` (N,) int64 on one device.
    Returns the trained parameters {name: (K, ...)}.
    """
    require(y.ndim == 1, f"y must be 1-D class labels (N,), got shape {tuple(y.shape)}")
    _check_training(params, x, y, schedule, lr=lr, momentum=momentum, weight_decay=weight_decay)
    forward = vmap(lambda p, xb: functional_call(template, p, (xb,)))      # (K, B, ...) -> (K, B, C)

    def grads_of(p: Params, xb: torch.Tensor, yb: torch.Tensor) -> Params:
        # The K models share no parameters, so the gradient of the *sum* of their mean losses
        # w.r.t. the stacked parameters is each model's own gradient, in one backward pass.
        p = {k: v.detach().requires_grad_() for k, v in p.items()}
        logits = forward(p, xb)
        total = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="sum") / yb.shape[1]
        return dict(zip(p, torch.autograd.grad(total, list(p.values()))))

    device = next(iter(params.values())).device
    batches, active = schedule.batches.to(device), schedule.active.to(device)
    params = {k: v.clone() for k, v in params.items()}
    bufs = {k: torch.zeros_like(v) for k, v in params.items()}
    for s in range(batches.shape[1]):
        idx, on = batches[:, s], active[:, s]                       # (K, B), (K,)
        grads = grads_of(params, x[idx], y[idx])                     # {name: (K, ...)}
        for name, p in params.items():
            d = grads[name] + weight_decay * p if weight_decay else grads[name]
            buf = momentum * bufs[name] + d if momentum else d
            bufs[name] = _masked(on, buf, bufs[name])
            params[name] = _masked(on, p - lr * buf, p)
    return params


def _load(template: nn.Module, params: Params, k: int) -> nn.Module:
    model = copy.deepcopy(template).to_empty(device=next(iter(params.values())).device)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(params[name][k])
    return model


def train_looped(template: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                 schedule: Schedule, *, lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> Params:
    """Reference for :func:`train_batched`: the same training, one model at a time, with
    ``torch.optim.SGD`` in a Python loop. Returns {name: (K, ...)}."""
    _check_training(params, x, y, schedule, lr=lr, momentum=momentum, weight_decay=weight_decay)
    trained = []
    for k in range(schedule.n_models):
        model = _load(template, params, k)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
        for s in torch.nonzero(schedule.active[k]).flatten().tolist():
            idx = schedule.batches[k, s].to(x.device)
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
        trained.append(dict(model.named_parameters()))
    return {name: torch.stack([t[name].detach() for t in trained]) for name in params}


@torch.no_grad()
def predict_batched(template: nn.Module, params: Params, x: torch.Tensor,
                    batch_size: int = 4096) -> torch.Tensor:
    """Logits of all K models on x (N, ...): (K, N, C), in chunks of ``batch_size`` inputs."""
    check_int("batch_size", batch_size)
    _check_params(params)
    forward = vmap(lambda p, xb: functional_call(template, p, (xb,)), in_dims=(0, None))
    return torch.cat([forward(params, xb) for xb in x.split(batch_size)], dim=1)


def concat_schedules(schedules: Sequence[Schedule]) -> Schedule:
    """One schedule for all models of several schedules (K = sum of K_i), padded with inactive
    steps to the longest; lets differently-planned ensembles train in one batched call."""
    check_nonempty("schedules", schedules)
    steps = max(s.batches.shape[1] for s in schedules)
    sizes = {s.batches.shape[2] for s in schedules}
    if len(sizes) != 1:
        raise ValueError(f"schedules must share one batch size, got {sorted(sizes)}")

    def pad(t: torch.Tensor) -> torch.Tensor:
        extra = steps - t.shape[1]
        return torch.cat([t, torch.zeros(t.shape[0], extra, *t.shape[2:], dtype=t.dtype)], dim=1)

    return Schedule(torch.cat([pad(s.batches) for s in schedules]),
                    torch.cat([pad(s.active) for s in schedules]))


def time_batched_vs_looped(template: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                           schedule: Schedule, **sgd) -> dict[str, float]:
    """Wall seconds of :func:`train_batched` (after one warm-up step) and :func:`train_looped` on
    the same work, their ratio, and the largest parameter difference between the two results."""
    warm = Schedule(schedule.batches[:, :1], schedule.active[:, :1])
    train_batched(template, params, x, y, warm, **sgd)          # first vmap call compiles/imports
    start = time.perf_counter()
    batched = train_batched(template, params, x, y, schedule, **sgd)
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    looped = train_looped(template, params, x, y, schedule, **sgd)
    t_looped = time.perf_counter() - start
    gap = max(float((batched[k] - looped[k]).abs().max()) for k in params)
    return {"models": schedule.n_models, "batched_s": t_batched, "looped_s": t_looped,
            "speedup": t_looped / t_batched, "max_param_diff": gap}


# ---- ensembles for agreement studies ---------------------------------------------------------

RANDOMNESS_SOURCES = ("random_head", "data_order", "data_subset")


def make_head(d_in: int, n_classes: int, scale: float = 1.0) -> nn.Linear:
    """A linear head with torch's default init (uniform in +-1/sqrt(d_in)) times ``scale``;
    ``scale = 1`` is ``nn.Linear`` itself. A larger scale spreads the members' starting points."""
    check_int("d_in", d_in)
    check_int("n_classes", n_classes)
    check_number("scale", scale)
    head = nn.Linear(d_in, n_classes)
    with torch.no_grad():
        head.weight.mul_(scale)
        head.bias.mul_(scale)
    return head


def epoch_grid(min_epochs: int, max_epochs: int, n_models: int) -> list[int]:
    """Training lengths of K models: ``np.linspace(min, max, K)`` rounded to the nearest integer
    (half to even), so the first model trains ``min_epochs`` and the last ``max_epochs``."""
    check_int("n_models", n_models)
    check_int("min_epochs", min_epochs, minimum=0)
    check_int("max_epochs", max_epochs, minimum=0)
    if min_epochs > max_epochs:
        raise ValueError(f"need min <= max epochs, got min_epochs={min_epochs}, max_epochs={max_epochs}")
    return [int(round(e)) for e in np.linspace(min_epochs, max_epochs, n_models)]


def one_source_ensembles(n_train: int, *, epochs: Sequence[int], batch_size: int,
                         subset_fraction: float, member_seeds: Sequence[int], shared_seed: int,
                         subset_seed: int) -> dict[str, tuple[list[int], Schedule]]:
    """Three ensembles of K = len(epochs) models that differ in exactly one source of randomness
    (Saxena et al., 2024, Sec. 3): {source: (init seed per model, data schedule)}.

    * ``random_head``: init seeds ``member_seeds``; one shared data order (``shared_seed``).
    * ``data_order``: one shared init (``shared_seed``); data orders ``member_seeds``.
    * ``data_subset``: shared init and order seed; model k trains on its own random subset of
      ``max(batch_size, round(subset_fraction * n_train))`` examples (drawn with ``subset_seed``)
      for ``epochs[k] * n_train / n_sub`` epochs (rounded, >= 1), i.e. about as many steps.
    Training lengths ``epochs`` are the same in all three, so only the randomness differs.
    """
    k = len(epochs)
    check_int("n_train", n_train)
    check_int("batch_size", batch_size)
    if len(member_seeds) != k:
        raise ValueError(f"need one member seed per model: {len(member_seeds)} seeds, {k} models")
    if not (isinstance(subset_fraction, numbers.Real) and 0 < subset_fraction <= 1):
        raise ValueError(f"subset_fraction must be in (0, 1], got {subset_fraction}")
    n_sub = min(n_train, max(batch_size, int(round(subset_fraction * n_train))))
    gen = torch.Generator().manual_seed(int(subset_seed))
    subsets = [torch.randperm(n_train, generator=gen)[:n_sub] for _ in range(k)]
    sub_epochs = [max(1, int(round(e * n_train / n_sub))) for e in epochs]
    plan = dict(n=n_train, batch_size=batch_size)
    shared = [int(shared_seed)] * k
    members = [int(s) for s in member_seeds]
    return {
        "random_head": (members, epoch_schedule(**plan, epochs=epochs, order_seeds=shared)),
        "data_order": (shared, epoch_schedule(**plan, epochs=epochs, order_seeds=members)),
        "data_subset": (shared, epoch_schedule(**plan, epochs=sub_epochs, order_seeds=shared,
                                               subsets=subsets)),
    }
