"""Chapter 03's experiment: three ensembles of linear heads over one frozen backbone, differing
only in their source of randomness, and every OOD-accuracy estimator on every shift.

1. ``ensemble_plans``: for one seed, the K heads of each ensemble (init seeds + data schedule);
   training lengths are spread over [min_epochs, max_epochs] identically in all three.
2. ``train_heads``: all 3K heads in one batched (vmapped) training call.
3. ``evaluate``: accuracy, agreement, both probit lines, ALine-S/-D and the baselines, per
   (ensemble, shift), into long tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from robustbook import shift
from robustbook.chapters.agreement_foundation.config import Settings
from robustbook.chapters.agreement_foundation.features import FeatureSet
from robustbook.ensembles import (
    Schedule,
    concat_schedules,
    epoch_schedule,
    init_stacked,
    predict_batched,
    time_batched_vs_looped,
    train_batched,
)

ENSEMBLES = ("random_head", "data_order", "data_subset")
ENSEMBLE_LABELS = {"random_head": "random head init", "data_order": "data order",
                   "data_subset": "data subset"}
METHODS = ("aline_d", "aline_s", "naive", "atc", "ac", "doc")
METHOD_LABELS = {"aline_d": "ALine-D", "aline_s": "ALine-S", "naive": "naive agreement",
                 "atc": "ATC", "ac": "AC", "doc": "DOC"}


def epoch_grid(min_epochs: int, max_epochs: int, n_models: int) -> list[int]:
    """Training lengths of the K models: evenly spread integers from min to max epochs."""
    return [int(round(e)) for e in np.linspace(min_epochs, max_epochs, n_models)]


def make_head(d_in: int, n_classes: int, scale: float) -> nn.Linear:
    """A linear head with torch's default init (uniform, bound 1/sqrt(d_in)) times ``scale``."""
    head = nn.Linear(d_in, n_classes)
    with torch.no_grad():
        head.weight.mul_(scale)
        head.bias.mul_(scale)
    return head


def ensemble_plans(s: Settings, n_train: int, seed: int) -> dict[str, tuple[list[int], Schedule]]:
    """{ensemble: (init seed per head, data schedule)}. Only one thing varies per ensemble:
    random_head: the init (data order shared); data_order: the order (init shared);
    data_subset: a random ``subset_fraction`` of the training set per head (init and order
    seed shared), trained 1/subset_fraction times as many epochs, i.e. about as many steps."""
    k, base = s.n_models, seed * 1000
    epochs = epoch_grid(s.min_epochs, s.max_epochs, k)
    n_sub = max(s.batch_size, int(round(s.subset_fraction * n_train)))
    gen = torch.Generator().manual_seed(base + 999)
    subsets = [torch.randperm(n_train, generator=gen)[:n_sub] for _ in range(k)]
    sub_epochs = [max(1, int(round(e * n_train / n_sub))) for e in epochs]
    plan = dict(n=n_train, batch_size=s.batch_size)
    return {
        "random_head": ([base + i for i in range(k)],
                        epoch_schedule(**plan, epochs=epochs, order_seeds=[base] * k)),
        "data_order": ([base] * k,
                       epoch_schedule(**plan, epochs=epochs, order_seeds=[base + i for i in range(k)])),
        "data_subset": ([base] * k,
                        epoch_schedule(**plan, epochs=sub_epochs, order_seeds=[base] * k, subsets=subsets)),
    }


def train_heads(s: Settings, feats: FeatureSet, seed: int, device: torch.device):
    """Train every head of the three ensembles in one batched call. Returns (template,
    {ensemble: params (K, ...)}, {ensemble: epochs per head})."""
    plans = ensemble_plans(s, len(feats.y_train), seed)
    d = feats.x_train.shape[1]
    template, params = init_stacked(lambda: make_head(d, feats.n_classes, s.head_init_scale),
                                    [i for seeds, _ in plans.values() for i in seeds])
    params = {n: p.to(device) for n, p in params.items()}
    schedule = concat_schedules([sched for _, sched in plans.values()])
    trained = train_batched(template, params, feats.x_train.to(device), feats.y_train.to(device),
                            schedule, lr=s.lr)
    k = s.n_models
    per = {e: {n: p[i * k:(i + 1) * k] for n, p in trained.items()} for i, e in enumerate(ENSEMBLES)}
    epochs = {e: epoch_grid(s.min_epochs, s.max_epochs, k) for e in ENSEMBLES}
    return template, per, epochs


def estimates(logits_id: torch.Tensor, logits_ood: torch.Tensor, y_id: torch.Tensor) -> tuple[dict, dict]:
    """Every method's OOD-accuracy estimate (K,) from ID logits (K, M, C) with labels and
    unlabelled OOD logits (K, M', C). Returns ({method: (K,) or None if refused}, line info)."""
    p_id, p_ood = logits_id.softmax(-1), logits_ood.softmax(-1)
    pred_id, pred_ood = logits_id.argmax(-1), logits_ood.argmax(-1)
    acc_id = shift.accuracy(pred_id, y_id)
    agr_id, agr_ood = shift.pairwise_agreement(pred_id), shift.pairwise_agreement(pred_ood)
    out = {"naive": shift.naive_agreement(pred_ood), "ac": shift.average_confidence(p_ood),
           "doc": shift.doc(p_id, p_ood, acc_id), "atc": shift.atc(p_id, p_ood, acc_id)}
    info = {"agr_id": agr_id, "agr_ood": agr_ood, "acc_id": acc_id, "refused": ""}
    try:
        out["aline_d"] = shift.aline_d(acc_id, agr_id, agr_ood)
        out["aline_s"] = shift.aline_s(acc_id, agr_id, agr_ood)
        info["agr_line"] = shift.agreement_line(agr_id, agr_ood)
    except ValueError as refusal:  # recorded and reported, never replaced by a guess
        out["aline_d"] = out["aline_s"] = None
        info["refused"], info["agr_line"] = str(refusal), None
    return out, info


def _line_row(prefix: str, line: shift.LineFit | None) -> dict:
    values = (line.slope, line.bias, line.r2) if line is not None else (np.nan,) * 3
    return dict(zip((f"{prefix}_slope", f"{prefix}_bias", f"{prefix}_r2"), values))


def _accuracy_line(acc_id: np.ndarray, acc_ood: np.ndarray) -> shift.LineFit | None:
    """The (label-using) accuracy line, or None when all ID accuracies are equal (no line)."""
    try:
        return shift.accuracy_line(acc_id, acc_ood)
    except ValueError:
        return None


def evaluate_ensemble(template: nn.Module, params, feats: FeatureSet, epochs: list[int],
                      keys: dict) -> tuple[list[dict], list[dict], list[dict]]:
    """Rows for the models, lines and pairs tables of one ensemble over every shift."""
    device = next(iter(params.values())).device
    logits_id = predict_batched(template, params, feats.x_id.to(device)).cpu()
    models, lines, pairs = [], [], []
    for name, (x, y) in feats.shifts.items():
        logits_ood = predict_batched(template, params, x.to(device)).cpu()
        est, info = estimates(logits_id, logits_ood, feats.y_id)
        acc_ood = shift.accuracy(logits_ood.argmax(-1), y)
        corruption, severity = feats.shift_info[name]
        where = {**keys, "shift": name, "corruption": corruption, "severity": severity}
        for i in range(len(acc_ood)):
            models.append({**where, "model": i, "epochs": epochs[i], "acc_id": info["acc_id"][i],
                           "acc_ood": acc_ood[i],
                           **{f"est_{m}": (np.nan if est[m] is None else est[m][i]) for m in METHODS}})
        usable = set(zip(*shift.usable_pairs(info["agr_id"], info["agr_ood"])))
        i_idx, j_idx = np.triu_indices(len(acc_ood), 1)
        pairs += [{**where, "i": int(i), "j": int(j), "agr_id": info["agr_id"][i, j],
                   "agr_ood": info["agr_ood"][i, j], "usable": (i, j) in usable}
                  for i, j in zip(i_idx, j_idx)]
        lines.append({**where, **_line_row("acc", _accuracy_line(info["acc_id"], acc_ood)),
                      **_line_row("agr", info["agr_line"]), "n_usable_pairs": len(usable),
                      "refused": info["refused"]})
    return models, lines, pairs


def run_seed(s: Settings, feats: FeatureSet, seed: int, device: torch.device) -> dict[str, list[dict]]:
    """Train the three ensembles for ``seed`` and evaluate them on every shift."""
    template, params, epochs = train_heads(s, feats, seed, device)
    tables: dict[str, list[dict]] = {"models": [], "lines": [], "pairs": []}
    for ensemble in ENSEMBLES:
        rows = evaluate_ensemble(template, params[ensemble], feats, epochs[ensemble],
                                 {"seed": seed, "ensemble": ensemble})
        for name, part in zip(("models", "lines", "pairs"), rows):
            tables[name] += part
    return tables


def errors_table(models: pd.DataFrame) -> pd.DataFrame:
    """Per (seed, ensemble, shift, method): MAE in accuracy points (%) and MAPE (%) over the K
    models; NaN where ALine refused."""
    rows = []
    for (seed, ensemble, name), g in models.groupby(["seed", "ensemble", "shift"], sort=False):
        for m in METHODS:
            est = g[f"est_{m}"].to_numpy()
            ok = not np.isnan(est).any()
            rows.append({"seed": seed, "ensemble": ensemble, "shift": name,
                         "corruption": g["corruption"].iloc[0], "severity": g["severity"].iloc[0],
                         "method": m,
                         "mae": 100 * shift.mae(est, g["acc_ood"]) if ok else np.nan,
                         "mape": shift.mape(est, g["acc_ood"]) if ok else np.nan})
    return pd.DataFrame(rows)


def speed_check(s: Settings, seed: int, epochs: int = 2, n_train: int = 1198,
                n_classes: int = 10) -> pd.DataFrame:
    """Seconds to train the K heads of a random-head ensemble for ``epochs`` epochs batched vs. in
    a Python loop (same inits, same data order; Gaussian features of the cpu run's shape), and
    the largest parameter difference between the two results."""
    k = s.n_models
    init_seeds = [seed * 1000 + i for i in range(k)]
    schedule = epoch_schedule(n_train, epochs=[epochs] * k, batch_size=s.batch_size,
                              order_seeds=[seed * 1000] * k)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n_train, s.backbone_width, generator=gen)
    y = torch.randint(0, n_classes, (n_train,), generator=gen)
    template, params = init_stacked(lambda: make_head(s.backbone_width, n_classes, s.head_init_scale),
                                    init_seeds)
    timing = time_batched_vs_looped(template, params, x, y, schedule, lr=s.lr)
    return pd.DataFrame([{**timing, "steps per model": int(schedule.steps().max())}])
