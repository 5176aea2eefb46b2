"""One fine-tuning run under a (learned) objective, and WiSE-FT weight interpolation.

``finetune`` trains every parameter of ``model`` with AdamW (decoupled weight decay) for a fixed
number of mini-batch steps under a warm-up + cosine schedule whose *base lr is the lr it is given*.
(The official AutoFT code rebuilds its schedule from the command-line lr, so the searched lr never
takes effect; here the lr actually applied at every step is returned in ``lrs`` and tested.)

``wise_ft`` is WiSE-FT (Wortsman et al., 2022): θ_α = (1 - α)·θ₀ + α·θ₁, α = 0 the pretrained
(zero-shot / linear-probe) model, α = 1 the fine-tuned one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from robustbook.autoft.losses import WeightedObjective
from robustbook.optim.schedule import warmup_cosine


@dataclass
class FinetuneRun:
    """What a run did: the lr applied at each step (len = steps) and the objective per step."""

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)


def batch_indices(n: int, steps: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """(steps, batch_size) indices: successive random permutations of range(n), cut in batches
    (the last incomplete batch of a pass is dropped when n >= batch_size)."""
    size = min(batch_size, n)
    per_pass = n // size
    passes = -(-steps // per_pass)
    perms = torch.stack([torch.randperm(n, generator=generator)[:per_pass * size] for _ in range(passes)])
    return perms.reshape(-1, size)[:steps]


def finetune(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, weights: Mapping[str, float],
             lr: float, weight_decay: float, steps: int, batch_size: int, seed: int,
             warmup_steps: int = 0) -> FinetuneRun:
    """Fine-tune ``model`` in place on (x (N, ...), y (N,)) with the objective Σ w_t·term_t
    (``robustbook.autoft.losses``), AdamW(lr, weight_decay), ``steps`` mini-batches drawn with
    ``seed``, schedule ``warmup_cosine(steps, warmup_steps)`` on base lr ``lr``."""
    if lr <= 0 or steps < 1 or weight_decay < 0:
        raise ValueError(f"need lr > 0, steps >= 1, weight_decay >= 0; got {lr}, {steps}, {weight_decay}")
    params = [p for p in model.parameters() if p.requires_grad]
    objective = WeightedObjective(weights, params)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = warmup_cosine(opt, steps, warmup_steps)
    order = batch_indices(len(y), steps, batch_size, torch.Generator().manual_seed(seed))
    run = FinetuneRun()
    model.train()
    for idx in order:
        idx = idx.to(x.device)
        loss = objective(model(x[idx]), y[idx], params)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        run.lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        run.losses.append(float(loss.detach()))
    model.eval()
    return run


def wise_ft(theta0: Mapping[str, torch.Tensor], theta1: Mapping[str, torch.Tensor],
            alpha: float) -> dict[str, torch.Tensor]:
    """WiSE-FT: (1 - alpha)·θ₀ + alpha·θ₁ per floating-point entry of two state dicts with the
    same keys (integer buffers are taken from θ₁)."""
    if set(theta0) != set(theta1):
        raise ValueError("WiSE-FT needs two state dicts with the same keys")
    return {k: ((1 - alpha) * theta0[k] + alpha * v) if v.is_floating_point() else v.clone()
            for k, v in theta1.items()}


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Predicted labels (N,) of ``model`` in eval mode."""
    model.eval()
    return torch.cat([model(chunk).argmax(1) for chunk in x.split(batch_size)]) if len(x) else \
        torch.zeros(0, dtype=torch.long)


def score(pred: torch.Tensor, y: torch.Tensor, metric: str = "accuracy") -> float:
    """``accuracy`` or ``macro_f1`` (the mean F1 over the classes present in the labels, as
    WILDS scores iWildCam) of predictions (N,) against labels (N,)."""
    pred, y = pred.cpu().numpy(), y.cpu().numpy()
    if metric == "accuracy":
        return float((pred == y).mean())
    if metric == "macro_f1":
        classes = np.unique(y)
        f1 = []
        for c in classes:
            tp = np.sum((pred == c) & (y == c))
            denom = np.sum(pred == c) + np.sum(y == c)
            f1.append(2 * tp / denom if denom else 0.0)
        return float(np.mean(f1))
    raise ValueError(f"metric must be 'accuracy' or 'macro_f1', got {metric!r}")
