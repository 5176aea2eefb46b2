"""The book's one learning-rate schedule: linear warm-up, then cosine decay to 0."""

from __future__ import annotations

import math
import numbers

import torch


def _check_lengths(total_steps: float, warmup_steps: float) -> None:
    for name, value, low in (("total_steps", total_steps, 1), ("warmup_steps", warmup_steps, 0)):
        if not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= low):
            raise ValueError(f"{name} must be a finite number >= {low}, got {value!r}")


def warmup_cosine_factor(step: int, total_steps: int, warmup_steps: int = 0) -> float:
    """Multiplier of the base lr at ``step`` (0-based): ``(step + 1) / warmup_steps`` during the
    warm-up, then ``(1 + cos(pi * progress)) / 2`` with progress from 0 (end of warm-up) to 1
    (``total_steps``), held at 0 after that."""
    _check_lengths(total_steps, warmup_steps)
    if not step >= 0:
        raise ValueError(f"step must be >= 0 (0-based), got {step}")
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def warmup_cosine(optimizer: torch.optim.Optimizer, total_steps: int,
                  warmup_steps: int = 0) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` applying ``warmup_cosine_factor`` to every parameter group; call its
    ``step()`` after each optimizer step."""
    _check_lengths(total_steps, warmup_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine_factor(step, total_steps, warmup_steps))
