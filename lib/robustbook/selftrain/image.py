"""The four image-level methods of Garg et al. (2023, Sec. 5) on in-memory tensors, built on
``robustbook.train.fit``: ERM on the labelled source, SimCLR pretraining on unlabelled
source + target followed by fine-tuning on the source, FixMatch, and STOC (FixMatch started from
the SimCLR model). Models expose ``features(x)`` and ``head`` (e.g. ``TinyCNN``, ``ResNet18GN``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from robustbook._checks import check_int, check_number, require
from robustbook.selftrain.augment import strong_view, weak_view
from robustbook.selftrain.losses import fixmatch_loss, nt_xent_loss
from robustbook.train import fit


@dataclass
class FixMatchLog:
    """Per epoch: share of unlabelled points above the threshold, and how many of those pseudo-
    labels were right (when the true labels are passed, for the report only)."""

    mask_rate: list[float] = field(default_factory=list)
    pseudo_acc: list[float] = field(default_factory=list)


def _adam(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)


def train_source(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int,
                 lr: float, generator: torch.Generator, weight_decay: float = 5e-4,
                 progress: bool | str = False) -> nn.Module:
    """ERM / fine-tuning: cross entropy on weakly augmented labelled images x (N, C, H, W)."""
    require(x.ndim == 4, f"x must be images (N, C, H, W), got shape {tuple(x.shape)}")
    opt = _adam(model, lr, weight_decay)

    def step(xb: torch.Tensor, yb: torch.Tensor) -> float:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(weak_view(xb, generator)), yb)
        loss.backward()
        opt.step()
        return float(loss.detach())

    fit(model, x, y, step, epochs=epochs, batch_size=batch_size, generator=generator, progress=progress)
    return model


def projection_head(d_in: int, d_out: int = 32) -> nn.Module:
    """SimCLR's MLP projection g(h) = W2 ReLU(W1 h) (Chen et al., 2020, Sec. 2.1)."""
    check_int("d_in", d_in)
    check_int("d_out", d_out)
    return nn.Sequential(nn.Linear(d_in, d_in), nn.ReLU(), nn.Linear(d_in, d_out))


def simclr_pretrain(model: nn.Module, x: torch.Tensor, *, epochs: int, batch_size: int, lr: float,
                    temperature: float, generator: torch.Generator, progress: bool | str = False
                    ) -> list[float]:
    """Contrastive pretraining of ``model.features`` on unlabelled x (N, C, H, W): two strong
    views per image, NT-Xent on a projection head (discarded afterwards). Returns epoch losses."""
    require(x.ndim == 4, f"x must be images (N, C, H, W), got shape {tuple(x.shape)}")
    check_int("batch_size", batch_size, minimum=2)  # a batch of one has no negatives
    check_number("temperature", temperature, low=0, low_open=True)
    require(hasattr(model, "features") and isinstance(getattr(model, "head", None), nn.Linear),
            f"model must expose features(x) and a linear head, got {type(model).__name__}")
    device = next(model.parameters()).device
    proj = projection_head(model.head.in_features).to(device)  # type: ignore[union-attr, arg-type]
    encoder = [p for name, p in model.named_parameters() if not name.startswith("head.")]
    opt = torch.optim.Adam([*encoder, *proj.parameters()], lr=lr)

    def step(xb: torch.Tensor, _: torch.Tensor) -> float:
        if len(xb) < 2:
            return 0.0
        opt.zero_grad(set_to_none=True)
        z1 = proj(model.features(strong_view(xb, generator)))  # type: ignore[operator]
        z2 = proj(model.features(strong_view(xb, generator)))  # type: ignore[operator]
        loss = nt_xent_loss(z1, z2, temperature)
        loss.backward()
        opt.step()
        return float(loss.detach())

    dummy = torch.zeros(len(x), dtype=torch.long, device=x.device)
    return fit(model, x, dummy, step, epochs=epochs, batch_size=batch_size, generator=generator,
               progress=progress).train_loss


def fixmatch_train(model: nn.Module, x_lab: torch.Tensor, y_lab: torch.Tensor, x_unlab: torch.Tensor, *,
                   epochs: int, batch_size: int, mu: int, tau: float, lam: float, lr: float,
                   generator: torch.Generator, y_unlab: torch.Tensor | None = None,
                   weight_decay: float = 5e-4, progress: bool | str = False) -> FixMatchLog:
    """FixMatch (Sohn et al., 2020): each step takes mu * batch_size unlabelled images (an epoch is
    one pass over x_unlab) and batch_size labelled ones drawn at random; loss = CE(weak labelled)
    + lam * mean(mask * CE(strong, argmax weak)), mask = [max softmax(weak) >= tau]."""
    require(x_lab.ndim == 4 and x_unlab.ndim == 4 and x_lab.shape[1:] == x_unlab.shape[1:],
            f"x_lab and x_unlab must be images (N, C, H, W) of one size, got {tuple(x_lab.shape)} and "
            f"{tuple(x_unlab.shape)}")
    require(len(x_lab) > 0 and len(x_lab) == len(y_lab),
            f"need a non-empty labelled set with one label per image, got x_lab={len(x_lab)}, y_lab={len(y_lab)}")
    require(y_unlab is None or len(y_unlab) == len(x_unlab),
            f"y_unlab must have one label per x_unlab image, got {None if y_unlab is None else len(y_unlab)} "
            f"for {len(x_unlab)}")
    check_int("mu", mu)
    check_int("batch_size", batch_size)
    check_number("tau", tau, low=0)  # tau > 1 is allowed: no pseudo-label passes (tested)
    check_number("lam", lam, low=0)
    opt = _adam(model, lr, weight_decay)
    log, counts = FixMatchLog(), {"mask": 0, "right": 0, "seen": 0}
    labels = y_unlab if y_unlab is not None else torch.full((len(x_unlab),), -1, dtype=torch.long)

    def step(xu: torch.Tensor, yu: torch.Tensor) -> float:
        idx = torch.randint(0, len(x_lab), (batch_size,), generator=generator)
        xl, yl = weak_view(x_lab[idx], generator), y_lab[idx]
        xw, xs = weak_view(xu, generator), strong_view(xu, generator)
        logits = model(torch.cat([xl, xw, xs]))
        lw, ls = logits[batch_size:].chunk(2)
        loss, mask = fixmatch_loss(logits[:batch_size], yl, lw, ls, tau=tau, lam=lam)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        counts["mask"] += int(mask.sum())
        counts["right"] += int(((lw.argmax(1) == yu) & mask).sum())
        counts["seen"] += len(xu)
        return float(loss.detach())

    def evaluate(_: nn.Module) -> dict[str, float]:
        if counts["seen"]:
            log.mask_rate.append(counts["mask"] / counts["seen"])
            log.pseudo_acc.append(counts["right"] / max(counts["mask"], 1))
        counts.update(mask=0, right=0, seen=0)
        return {}

    fit(model, x_unlab, labels, step, epochs=epochs, batch_size=mu * batch_size, generator=generator,
        evaluate=evaluate, progress=progress)
    return log
