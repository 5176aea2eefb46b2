"""Chapter 06's experiments (glue): one digits fine-tuning task per reported seed, the baselines
(linear probe, CE fine-tuning, WiSE-FT), and three searches over the same inner fine-tuning run —
AutoFT (all loss terms, scored on the small OOD validation set), the same space scored on ID
validation, and (lr, weight decay, seed) only on OOD validation.

Every random stream inside a seed comes from ``derive_seed(seed, stream, ...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from robustbook.autoft import SearchSpace, best_hyper, finetune, run_search, trials_frame, wise_ft
from robustbook.autoft.search import Hyper
from robustbook.autoft.task import BodyHead, Task, evaluate, linear_probe_head, model_at, state_of
from robustbook.book.chapter import derive_seed
from robustbook.data.digit_shifts import corrupted_sets, digit_images, flatten_pixels, split_digits
from robustbook.models.frozen_features import PIXEL_STD_FLOOR, pretrain_mlp
from robustbook.models.small import MLP
from robustbook.optim.schedule import warmup_cosine_factor

SEARCHES = {  # name: (searched terms or None for all, validation set the search maximises)
    "autoft": (None, "ood_val"),
    "search_id_val": (None, "id_val"),
    "lr_wd_ood_val": ((), "ood_val"),
}
METHOD_LABELS = {"lp": "linear probe (θ₀)", "ft": "fine-tuning (CE)", "wise_ft": "WiSE-FT",
                 "search_id_val": "AutoFT space, ID-val search", "lr_wd_ood_val": "(lr, wd) on OOD val",
                 "autoft": "AutoFT"}


def digits_task(s, seed: int) -> tuple[Task, Callable[[], nn.Module]]:
    """Digits (32x32 pixels): ID train / ID val from the training split, the OOD val set = the
    first ``n_ood_val`` ID-val images under ``ood_val_corruption``, OOD test = the test images
    under every test corruption. Returns the task and a factory of the starting model θ₀ (an MLP
    pretrained on digits 0 .. pretrain_classes - 1 with a linear-probe head on all ten)."""
    images, labels = digit_images()
    idx_tr, idx_te = split_digits(labels, derive_seed(seed, "split"))
    idx_val, idx_tr = idx_tr[:s.n_id_val], idx_tr[s.n_id_val:]
    flat = pooled_pixels(images[idx_tr], s.input_size)
    mean, std = flat.mean(0), flat.std(0) + PIXEL_STD_FLOOR

    def pixels(x: np.ndarray) -> torch.Tensor:
        return (pooled_pixels(x, s.input_size) - mean) / std

    cseed = derive_seed(seed, "corruption")
    val_c, val_sev = s.ood_val_shift
    val = corrupted_sets(images[idx_val[:s.n_ood_val]], [val_c], [val_sev], cseed)
    test = corrupted_sets(images[idx_te], s.test_corruptions, [s.test_severity], cseed)
    task = Task(pixels(images[idx_tr]), labels[idx_tr], pixels(images[idx_val]), labels[idx_val],
                pixels(next(iter(val.values()))[0]), labels[idx_val[:s.n_ood_val]],
                pixels(images[idx_te]), labels[idx_te],
                {k: (pixels(x), labels[idx_te]) for k, (x, _) in test.items()}, 10, next(iter(val)))
    backbone = pretrain_mlp(task.x_train, task.y_train, width=s.backbone_width,
                            n_classes=s.pretrain_classes, epochs=s.pretrain_epochs,
                            seed=derive_seed(seed, "backbone"))
    with torch.no_grad():
        feats = backbone.features(task.x_train)
    head = linear_probe_head(feats, task.y_train, 10, seed=derive_seed(seed, "probe"))
    theta0 = state_of(BodyHead(backbone.body, head))
    width, d = s.backbone_width, task.x_train.shape[1]
    return task, partial(_digits_model, d, width, theta0)


def pooled_pixels(images: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (N, 32, 32) images (after corruption) average-pooled to (N, size * size) floats."""
    x = flatten_pixels(images).view(len(images), 1, 32, 32)
    return F.adaptive_avg_pool2d(x, size).flatten(1)


def _digits_model(d: int, width: int, theta0: dict) -> nn.Module:
    mlp = MLP(d, width, 10)
    return model_at(lambda: BodyHead(mlp.body, mlp.head), theta0).requires_grad_(True)


def fine_tuned(task: Task, make: Callable[[], nn.Module], hyper: Hyper, s,
               log: list | None = None) -> nn.Module:
    """θ₀ fine-tuned on the ID training set with ``hyper`` for ``s.steps`` steps (the lr applied
    at each step is appended to ``log`` when given)."""
    model = make()
    run = finetune(model, task.x_train, task.y_train, weights=hyper.weights, lr=hyper.lr,
                   weight_decay=hyper.weight_decay, steps=s.steps, batch_size=s.batch_size,
                   seed=hyper.seed)
    if log is not None:
        log.extend(run.lrs)
    return model


def baselines(task: Task, make, s, seed: int) -> list[dict]:
    """Rows (method, alpha, scores) for the linear probe θ₀, CE fine-tuning at (lr0, wd0) and
    WiSE-FT between them at every alpha."""
    theta0 = state_of(make())
    ft = fine_tuned(task, make, Hyper({"ce": 1.0}, s.lr0, s.wd0, derive_seed(seed, "ft") % 11), s)
    rows = [{"method": "lp", **evaluate(make(), task, s.metric)},
            {"method": "ft", **evaluate(ft, task, s.metric)}]
    theta1 = state_of(ft)
    for alpha in s.wise_alphas:
        rows.append({"method": "wise_ft", "alpha": alpha,
                     **evaluate(model_at(make, wise_ft(theta0, theta1, alpha)), task, s.metric)})
    return [{"seed": seed, **r} for r in rows]


def search(task: Task, make, s, seed: int, name: str, progress: bool = False):
    """One search (``SEARCHES[name]``) with ``s.n_trials`` trials; returns (trials table, final
    row: the best objective retrained and evaluated, the final run's applied-lr record)."""
    terms, target = SEARCHES[name]
    space = SearchSpace(lr0=s.lr0) if terms is None else SearchSpace(terms=terms, lr0=s.lr0)

    def score_trial(hyper: Hyper) -> tuple[float, dict]:
        scores = evaluate(fine_tuned(task, make, hyper, s), task, s.metric)
        return scores[target], {k: v for k, v in scores.items() if not k.startswith("test:")}

    storage = None if s.storage_dir is None else f"sqlite:///{s.storage_dir}/{name}-seed{seed}.db"
    study = run_search(score_trial, space, n_trials=s.n_trials, seed=derive_seed(seed, f"search-{name}"),
                       storage=storage, study_name=f"{name}-seed{seed}", n_jobs=s.n_jobs,
                       progress=progress)
    best, lrs = best_hyper(study, space), []
    final = fine_tuned(task, make, best, s, lrs)   # the final model, retrained with the best objective
    trials = trials_frame(study).assign(seed=seed, search=name)
    row = {"seed": seed, "method": name, "lr": best.lr, "weight_decay": best.weight_decay,
           "hp_seed": best.seed, **{f"w_{k}": v for k, v in best.weights.items()},
           **evaluate(final, task, s.metric)}
    expected = [best.lr * warmup_cosine_factor(i, s.steps) for i in range(s.steps)]
    lr_row = {"seed": seed, "search": name, "searched_lr": best.lr, "first_step_lr": lrs[0],
              "max_rel_error": max(abs(a - b) / b for a, b in zip(lrs, expected) if b > 0)}
    return trials, row, lr_row


def run_seed(task: Task, make, s, seed: int, progress: bool = False) -> dict[str, list]:
    """Baselines and the three searches for one reported seed: rows of the scores, trials and
    lr_log tables."""
    out: dict[str, list] = {"scores": baselines(task, make, s, seed), "trials": [], "lr_log": []}
    for name in SEARCHES:
        trials, row, lr_row = search(task, make, s, seed, name, progress)
        out["scores"].append(row)
        out["trials"].append(trials)
        out["lr_log"].append(lr_row)
    return out
