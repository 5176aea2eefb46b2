"""Adapt a (grouped) BatchNorm model to an unlabelled test set with one TTA method, and predict.

``adapt`` works on a copy: the source model keeps its weights and running statistics. Test batches
are consecutive slices of ``batch_size`` of the test set, in its order; TENT and ETA take one
optimiser step per batch (Adam, as in the reference TENT set-up) for ``passes`` passes over the set.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from robustbook.tta.adapt import Eta, Tent, collect_params, configure_model, use_batch_statistics

TTA_METHODS = ("plain", "bn_adapt", "tent", "eta")
METHOD_LABELS = {"plain": "no adaptation", "bn_adapt": "BN_Adapt", "tent": "TENT", "eta": "ETA"}


def batches(x: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Consecutive slices of ``batch_size``; a trailing single sample joins the previous batch
    (batch statistics need two samples)."""
    starts = list(range(0, len(x), batch_size))
    if len(starts) > 1 and len(x) - starts[-1] < 2:
        starts.pop()
    return [x[s:e] for s, e in zip(starts, [*starts[1:], len(x)])]


def adapt(model: nn.Module, method: str, x: torch.Tensor, *, batch_size: int, lr: float = 1e-3,
          passes: int = 1, n_classes: int = 10) -> nn.Module:
    """A copy of ``model`` adapted by ``method`` (``TTA_METHODS``) on unlabelled x (N, ...).
    plain: eval mode (running statistics); bn_adapt: batch statistics; tent / eta: batch statistics
    and ``passes`` passes of one Adam step (``lr``) per batch on the (filtered) entropy."""
    if method not in TTA_METHODS:
        raise ValueError(f"unknown TTA method {method!r}; known: {', '.join(TTA_METHODS)}")
    m = copy.deepcopy(model)
    if method == "plain":
        return m.eval()
    if method == "bn_adapt":
        return use_batch_statistics(m)
    configure_model(m)
    opt = torch.optim.Adam(collect_params(m)[0], lr=lr)
    wrapped = Tent(m, opt) if method == "tent" else Eta(m, opt, n_classes)
    for _ in range(passes):
        for xb in batches(x, batch_size):
            wrapped(xb)
    return m


def predict(model: nn.Module, x: torch.Tensor, batch_size: int,
            with_features: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits (K, N, C) (and penultimate features (K, N, D)) of a model with ``features`` and
    ``head`` whose outputs are (B, K, ...), over :func:`batches` — in whatever mode the model is
    (eval: running statistics; adapted: each batch's own statistics)."""
    logits, feats = [], []
    with torch.no_grad():
        for xb in batches(x, batch_size):
            f = model.features(xb)
            logits.append(model.head(f))
            feats.append(f)
    return torch.cat(logits).transpose(0, 1), (torch.cat(feats).transpose(0, 1) if with_features else None)
