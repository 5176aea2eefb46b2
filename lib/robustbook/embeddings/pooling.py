"""Pooling token states into one vector per input, over the positions a template marks as pooled.

Both functions select with ``torch.where`` rather than multiplying by the mask: hidden states at
padded positions may be NaN (a fully masked attention row), and ``NaN * 0`` is NaN.
"""

from __future__ import annotations

import torch

POOLINGS = ("mean", "last")


def _check(states: torch.Tensor, mask: torch.Tensor) -> None:
    if states.ndim != 3 or mask.shape != states.shape[:2]:
        raise ValueError(f"need states (B, L, d) and mask (B, L), got {tuple(states.shape)} and "
                         f"{tuple(mask.shape)}")
    if not bool(mask.any(dim=1).all()):
        raise ValueError("every input needs at least one pooled position")


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``states`` (B, L, d) over the positions where ``mask`` (B, L) is true -> (B, d)."""
    _check(states, mask)
    mask = mask.bool()
    summed = torch.where(mask.unsqueeze(-1), states, torch.zeros((), dtype=states.dtype)).sum(1)
    return summed / mask.sum(1, keepdim=True).to(states.dtype)


def last_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``states`` (B, L, d) at the last position where ``mask`` (B, L) is true -> (B, d)."""
    _check(states, mask)
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    last = torch.where(mask.bool(), positions, -1).max(dim=1).values
    return states[torch.arange(states.shape[0], device=states.device), last]


def check_poolings(poolings) -> None:
    """Every name in ``poolings`` (a sequence of names, not one string) is in ``POOLINGS``."""
    if isinstance(poolings, str):
        raise ValueError(f"poolings must be a sequence of names such as ('mean',), got the string {poolings!r}")
    if len(poolings) == 0:
        raise ValueError(f"poolings must name at least one of {POOLINGS}, got none")
    for p in poolings:
        if p not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {p!r}")


def pool(states: torch.Tensor, mask: torch.Tensor, strategy: str) -> torch.Tensor:
    """``mean_pool`` or ``last_pool`` by name."""
    if strategy == "mean":
        return mean_pool(states, mask)
    if strategy == "last":
        return last_pool(states, mask)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {strategy!r}")
