"""Label noise."""

from __future__ import annotations

import torch


def symmetric_label_noise(labels: torch.Tensor, rate: float, n_classes: int,
                          generator: torch.Generator) -> torch.Tensor:
    """Flip each label with probability ``rate`` to a class drawn uniformly from the *other*
    ``n_classes - 1`` classes (so a flipped label is always wrong). ``labels``: (N,) int64.

    rate=0 returns a copy of ``labels``. The expected fraction of wrong labels equals ``rate``.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"label noise rate must be in [0, 1), got {rate}")
    if n_classes < 2:
        raise ValueError(f"need at least 2 classes to flip labels, got {n_classes}")
    flip = torch.rand(labels.shape, generator=generator) < rate
    # An offset in 1..C-1 added modulo C lands uniformly on the other classes.
    offset = torch.randint(1, n_classes, labels.shape, generator=generator)
    return torch.where(flip, (labels + offset) % n_classes, labels)
