"""Label noise."""

from __future__ import annotations

import torch

from robustbook._checks import check_int, require


def symmetric_label_noise(labels: torch.Tensor, rate: float, n_classes: int,
                          generator: torch.Generator) -> torch.Tensor:
    """Flip each label with probability ``rate`` to a class drawn uniformly from the *other*
    ``n_classes - 1`` classes (so a flipped label is always wrong). ``labels``: (N,) int64.

    rate=0 returns a copy of ``labels``. The expected fraction of wrong labels equals ``rate``.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"label noise rate must be in [0, 1), got {rate}")
    check_int("n_classes", n_classes, minimum=2)
    require(not labels.is_floating_point() and not labels.is_complex() and labels.dtype != torch.bool,
            f"labels must be integer class indices, got dtype {labels.dtype}")
    if labels.numel():
        low, high = int(labels.min()), int(labels.max())
        require(low >= 0 and high < n_classes,
                f"labels must lie in [0, n_classes={n_classes}), got range [{low}, {high}]")
    flip = torch.rand(labels.shape, generator=generator) < rate
    # An offset in 1..C-1 added modulo C lands uniformly on the other classes.
    offset = torch.randint(1, n_classes, labels.shape, generator=generator)
    return torch.where(flip, (labels + offset) % n_classes, labels)
