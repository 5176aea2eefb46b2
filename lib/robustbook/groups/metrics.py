"""Group metrics and worst-group model selection (Sagawa et al., 2020; Kulkarni et al., 2024, Sec. 4).

A *group* is a (label, spurious attribute) pair: ``g = y * n_attributes + a``. Every function takes
a leading batch of K models where it makes sense, so the metrics of many models and epochs come out
of one call."""

from __future__ import annotations

import numbers

import torch

from robustbook._checks import check_int, require


def group_ids(y: torch.Tensor, a: torch.Tensor, n_attributes: int = 2) -> torch.Tensor:
    """(N,) int64 group index ``y * n_attributes + a`` for labels y (N,) and attributes a (N,)."""
    check_int("n_attributes", n_attributes)
    if y.shape != a.shape:
        raise ValueError(f"y and a must have the same shape, got {tuple(y.shape)} and {tuple(a.shape)}")
    if a.numel() and (int(a.min()) < 0 or int(a.max()) >= n_attributes):
        raise ValueError(f"attributes must lie in [0, {n_attributes}), got {int(a.min())}..{int(a.max())}")
    return y.long() * n_attributes + a.long()


def group_accuracy(pred: torch.Tensor, y: torch.Tensor, groups: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Accuracy within each group. ``pred`` (..., N) predicted labels; ``y`` and ``groups``
    (..., N) or (N,), broadcast against ``pred``. Returns (..., n_groups); a group with no
    examples is NaN (the worst group then ignores it)."""
    check_int("n_groups", n_groups)
    require(pred.ndim >= 1 and y.shape[-1:] == pred.shape[-1:] and groups.shape[-1:] == pred.shape[-1:],
            f"pred, y and groups must share the last (example) axis, got {tuple(pred.shape)}, "
            f"{tuple(y.shape)}, {tuple(groups.shape)}")
    correct = (pred == y).float()                                           # (..., N)
    onehot = torch.nn.functional.one_hot(groups.long(), n_groups).float()    # (..., N, G)
    counts = onehot.sum(-2)                                                  # (..., G)
    hits = (correct.unsqueeze(-1) * onehot).sum(-2)                          # (..., G)
    counts = counts.expand_as(hits)
    return torch.where(counts > 0, hits / counts.clamp(min=1), torch.full_like(hits, float("nan")))


def worst_group_accuracy(per_group: torch.Tensor) -> torch.Tensor:
    """Minimum over the last axis, ignoring NaN (empty groups): (..., G) -> (...)."""
    filled = torch.where(torch.isnan(per_group), torch.full_like(per_group, float("inf")), per_group)
    return filled.min(dim=-1).values


def average_accuracy(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Plain accuracy over all examples (the paper's "average accuracy"): (..., N) -> (...)."""
    require(pred.ndim >= 1 and y.shape[-1:] == pred.shape[-1:] and pred.shape[-1] > 0,
            f"pred and y must share a non-empty last (example) axis, got {tuple(pred.shape)} and {tuple(y.shape)}")
    return (pred == y).float().mean(dim=-1)


def select_by_worst_group(val_worst: torch.Tensor, first: int = 0) -> torch.Tensor:
    """Model selection: for each model the checkpoint with the highest worst-group *validation*
    accuracy, ties to the earliest, considering checkpoints ``first`` .. E-1 only.
    ``val_worst`` (K, E) -> (K,) int64 checkpoint indices (into the full E axis)."""
    require(val_worst.ndim >= 1, f"val_worst must be (K, E), got shape {tuple(val_worst.shape)}")
    if isinstance(first, bool) or not isinstance(first, numbers.Integral) or not 0 <= first < val_worst.shape[-1]:
        raise ValueError(f"first must be in [0, {val_worst.shape[-1]}), got {first}")
    window = val_worst[..., first:]
    best = window.max(dim=-1, keepdim=True).values
    is_best = (window == best).float()
    return is_best.argmax(dim=-1) + first  # argmax returns the first maximal index
