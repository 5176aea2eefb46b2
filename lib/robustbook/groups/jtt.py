"""Just Train Twice (Liu et al., 2021), as defined there and in the official code: train ERM for
T epochs, take its *error set* of misclassified training points, and train a second model from
scratch on the training set with the error set repeated ``up`` times in total (up-sampling).
Model selection for JTT must only consider the *second* stage's checkpoints."""

from __future__ import annotations

import torch

from robustbook._checks import check_int, require


def error_set(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N,) int64 indices of the training points stage 1 got wrong (``pred`` (N,) labels)."""
    require(pred.ndim == 1 and pred.shape == y.shape,
            f"pred and y must both be (N,), got {tuple(pred.shape)} and {tuple(y.shape)}")
    return torch.nonzero(pred != y).flatten()


def upsample_pool(n: int, errors: torch.Tensor, up: int) -> torch.Tensor:
    """The stage-2 training pool: every index 0..n-1 once, plus each error index ``up - 1`` more
    times, so an error point is drawn ``up`` times as often as a correct one. ``up = 1`` is ERM.
    Returns (n + (up - 1) * len(errors),) int64."""
    check_int("up", up)
    check_int("n", n, minimum=0)
    if errors.numel():
        low, high = int(errors.min()), int(errors.max())
        require(low >= 0 and high < n, f"errors must be indices in [0, n={n}), got range [{low}, {high}]")
    return torch.cat([torch.arange(n), errors.long().repeat(up - 1)])


def train_jtt(datasets, specs, *, stage1_epochs: int, up: int, **train_kw):
    """JTT's two stages for K = len(specs) models (``robustbook.groups.train.MethodSpec``; their
    loss weights should be 0). Stage 1: ERM for ``stage1_epochs`` epochs with the specs' seeds;
    stage 2: the same initialisation and seeds, trained from scratch on the up-sampled pool.
    Returns (stage-2 history, error-set sizes (K,), pool sizes (K,)). Only stage-2 checkpoints
    exist in the returned history, so selection cannot fall back to a stage-1 (ERM) model."""
    from dataclasses import replace

    check_int("stage1_epochs", stage1_epochs, minimum=0)
    check_int("up", up)

    from robustbook.groups.train import predict, train_stacked

    stage1, _ = train_stacked(datasets, specs, **{**train_kw, "epochs": stage1_epochs,
                                                  "progress": False})
    device = next(stage1.parameters()).device
    x = torch.stack([datasets[s.data_index].x["train"] for s in specs]).to(device)
    y = torch.stack([datasets[s.data_index].y["train"] for s in specs]).to(device)
    pred = predict(stage1, x)
    errors = [error_set(pred[k], y[k]).cpu() for k in range(len(specs))]
    pools = [upsample_pool(y.shape[1], e, up) for e in errors]
    stage2 = [replace(s, pool=p) for s, p in zip(specs, pools)]
    _, history = train_stacked(datasets, stage2, **train_kw)
    return history, torch.tensor([len(e) for e in errors]), torch.tensor([len(p) for p in pools])
