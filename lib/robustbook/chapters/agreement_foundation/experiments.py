"""Chapter 03's experiment (glue): three ensembles of linear heads over one frozen backbone,
differing only in their source of randomness, and every OOD-accuracy estimator on every shift.

Per reported seed: features (``robustbook.models.frozen_features``), the three ensembles
(``robustbook.ensembles.one_source_ensembles``) trained in one batched call, and the estimator
battery (``robustbook.shift.evaluate_shift``) per (ensemble, shift), written to long tables.
Every random stream inside a seed comes from ``derive_seed(seed, stream, ...)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import torch
from torch import nn

from robustbook import shift
from robustbook.book.chapter import derive_seed
from robustbook.chapters.agreement_foundation.config import Settings
from robustbook.ensembles import (
    RANDOMNESS_SOURCES,
    concat_schedules,
    epoch_grid,
    epoch_schedule,
    init_stacked,
    make_head,
    one_source_ensembles,
    predict_batched,
    time_batched_vs_looped,
    train_batched,
)
from robustbook.models.frozen_features import (
    FeatureSet,
    ShiftedDigits,
    TextPool,
    digits_features,
    shifted_digits,
    text_features,
    text_pool,
)

ENSEMBLES = RANDOMNESS_SOURCES
ENSEMBLE_LABELS = {"random_head": "random head init", "data_order": "data order",
                   "data_subset": "data subset"}


def _digits_streams(s: Settings, seed: int) -> dict:
    return dict(corruptions=s.corruptions, severities=s.severities, split_seed=derive_seed(seed, "split"),
                corruption_seed=derive_seed(seed, "corruption"), n_train=s.n_train)


def digits_data(s: Settings, seed: int) -> ShiftedDigits:
    """One reported seed's split and corrupted test digits, shared by every backbone of the seed
    (corrupting them is the slow part, so it is done once per seed)."""
    return shifted_digits(**_digits_streams(s, seed))


def cpu_features(s: Settings, seed: int, data: ShiftedDigits | None = None) -> FeatureSet:
    """The digits backbone and its shifted feature sets for one reported seed (``data``: that
    seed's :func:`digits_data`, made here when not given)."""
    return digits_features(width=s.backbone_width, pretrain_classes=s.pretrain_classes,
                           pretrain_epochs=s.pretrain_epochs, backbone_seed=derive_seed(seed, "backbone"),
                           data=data, **_digits_streams(s, seed))


def train_heads(s: Settings, feats: FeatureSet, seed: int, device: torch.device):
    """All heads of the three ensembles in one batched call. Returns (template, {ensemble:
    params (K, ...)}, epochs per head)."""
    k, epochs = s.n_models, epoch_grid(s.min_epochs, s.max_epochs, s.n_models)
    plans = one_source_ensembles(
        len(feats.y_train), epochs=epochs, batch_size=s.batch_size, subset_fraction=s.subset_fraction,
        member_seeds=[derive_seed(seed, "member", i) for i in range(k)],
        shared_seed=derive_seed(seed, "shared"), subset_seed=derive_seed(seed, "subsets"))
    d = feats.x_train.shape[1]
    template, params = init_stacked(lambda: make_head(d, feats.n_classes, s.head_init_scale),
                                    [i for e in ENSEMBLES for i in plans[e][0]])
    params = {n: p.to(device) for n, p in params.items()}
    schedule = concat_schedules([plans[e][1] for e in ENSEMBLES])
    trained = train_batched(template, params, feats.x_train.to(device), feats.y_train.to(device),
                            schedule, lr=s.lr)
    per = {e: {n: p[i * k:(i + 1) * k] for n, p in trained.items()} for i, e in enumerate(ENSEMBLES)}
    return template, per, epochs


def _line(prefix: str, line: shift.LineFit | None) -> dict:
    values = (line.slope, line.bias, line.r2) if line is not None else (np.nan,) * 3
    return dict(zip((f"{prefix}_slope", f"{prefix}_bias", f"{prefix}_r2"), values))


def evaluate_ensemble(template: nn.Module, params, feats: FeatureSet, epochs: list[int],
                      keys: dict) -> dict[str, list[dict]]:
    """Rows of the models, lines, pairs and errors tables of one ensemble over every shift."""
    device = next(iter(params.values())).device
    logits_id = predict_batched(template, params, feats.x_id.to(device)).cpu()
    rows: dict[str, list[dict]] = {"models": [], "lines": [], "pairs": [], "errors": []}
    for name, (x, y) in feats.shifts.items():
        ev = shift.evaluate_shift(logits_id, feats.y_id, predict_batched(template, params, x.to(device)).cpu(), y)
        est = ev.estimates
        corruption, severity = feats.shift_info[name]
        where = {**keys, "shift": name, "corruption": corruption, "severity": severity}
        rows["models"] += [{**where, "model": i, "epochs": epochs[i], "acc_id": est.acc_id[i],
                            "acc_ood": ev.acc_ood[i], **{f"est_{m}": np.nan if v is None else v[i]
                                                         for m, v in est.by_method.items()}}
                           for i in range(len(ev.acc_ood))]
        usable = set(zip(*shift.usable_pairs(est.agr_id, est.agr_ood)))
        rows["pairs"] += [{**where, "i": int(i), "j": int(j), "agr_id": est.agr_id[i, j],
                           "agr_ood": est.agr_ood[i, j], "usable": (i, j) in usable}
                          for i, j in zip(*np.triu_indices(len(ev.acc_ood), 1))]
        rows["lines"].append({**where, **_line("acc", ev.acc_line), **_line("agr", est.agr_line),
                              "line_gap": ev.line_gap(), "identity_gap": ev.identity_gap(),
                              "n_usable_pairs": ev.n_usable_pairs,
                              "refused": "; ".join(f"{m}: {why}" for m, why in est.refusals.items())})
        rows["errors"] += [{**where, "method": m, "mae": mae, "mape": mape, "refused": m in est.refusals}
                           for m, (mae, mape) in ev.errors().items()]
    return rows


def run_seed(s: Settings, feats: FeatureSet, seed: int, device: torch.device,
             data: ShiftedDigits | None = None) -> dict[str, list[dict]]:
    """Train the three ensembles for ``seed`` and evaluate them on every shift; with
    ``s.cross_models`` > 0 also the mixed-backbone ensemble (digits backbones only; ``data``: the
    seed's shared digits, made when needed if not given)."""
    template, params, epochs = train_heads(s, feats, seed, device)
    tables: dict[str, list[dict]] = {"models": [], "lines": [], "pairs": [], "errors": [],
                                     "cross": [], "cross_models": []}
    if s.cross_models and s.backbone == "digits-mlp":
        tables.update(cross_backbone(s, backbone_zoo(s, feats, seed, data), seed, device))
    for ensemble in ENSEMBLES:
        rows = evaluate_ensemble(template, params[ensemble], feats, epochs,
                                 {"seed": seed, "ensemble": ensemble})
        for name, part in rows.items():
            tables[name] += part
    return tables


# Claim 2 of the paper: one line across *different* backbones. The chapter's backbone plus three
# others that differ in width, pretraining task (classes) and length; random-head ensembles on each.
OTHER_BACKBONES = {"mlp64, 8 classes": dict(width=64, pretrain_classes=8, pretrain_epochs=20),
                   "mlp256, 3 classes": dict(width=256, pretrain_classes=3, pretrain_epochs=10),
                   "mlp128, 10 classes": dict(width=128, pretrain_classes=10, pretrain_epochs=5)}


def backbone_zoo(s: Settings, feats: FeatureSet, seed: int, data: ShiftedDigits | None = None,
                 ) -> dict[str, FeatureSet]:
    """The chapter's features and three other frozen backbones on the same split and corrupted
    images (streams "split" and "corruption" shared, ``data`` when given; each backbone its own
    "backbone-<name>")."""
    zoo = {f"mlp{s.backbone_width}, {s.pretrain_classes} classes (the chapter's)": feats}
    data = data if data is not None else digits_data(s, seed)
    for name, kw in OTHER_BACKBONES.items():
        zoo[name] = digits_features(backbone_seed=derive_seed(seed, f"backbone-{name}"), data=data,
                                    **_digits_streams(s, seed), **kw)
    return zoo


def cross_backbone(s: Settings, zoo: dict[str, FeatureSet], seed: int, device: torch.device,
                   ) -> dict[str, list[dict]]:
    """``s.cross_models`` random-head fine-tunes per backbone, pooled into one ensemble: every
    estimator on every shift, agreement over all pairs (across backbones too). Rows of the
    ``cross`` (per shift) and ``cross_models`` (per model) tables."""
    sub = dataclasses.replace(s, n_models=s.cross_models)
    logits_id, logits_ood, labels = [], {}, {}
    rows: dict[str, list[dict]] = {"cross": [], "cross_models": []}
    names = []
    for name, feats in zoo.items():
        template, params, _ = train_heads(sub, feats, seed, device)
        heads = params["random_head"]
        logits_id.append(predict_batched(template, heads, feats.x_id.to(device)).cpu())
        for shift_name, (x, y) in feats.shifts.items():
            logits_ood.setdefault(shift_name, []).append(predict_batched(template, heads, x.to(device)).cpu())
            labels[shift_name] = y
        names += [name] * s.cross_models
    y_id = next(iter(zoo.values())).y_id
    info = next(iter(zoo.values())).shift_info
    for shift_name, y in labels.items():
        ev = shift.evaluate_shift(torch.cat(logits_id), y_id, torch.cat(logits_ood[shift_name]), y)
        corruption, severity = info[shift_name]
        where = {"seed": seed, "shift": shift_name, "corruption": corruption, "severity": severity}
        rows["cross"].append({**where, **_line("acc", ev.acc_line), **_line("agr", ev.estimates.agr_line),
                              "line_gap": ev.line_gap(), "identity_gap": ev.identity_gap(),
                              **{f"mae_{m}": mae for m, (mae, _) in ev.errors().items()},
                              "refused": "; ".join(ev.estimates.refusals)})
        rows["cross_models"] += [{**where, "backbone": b, "acc_id": ev.estimates.acc_id[i], "acc_ood": ev.acc_ood[i]}
                                 for i, b in enumerate(names)]
    return rows


# The language version: the same three ensembles on frozen all-MiniLM-L6-v2 embeddings of a topic
# task with text shifts. The pool is embedded once per run (MiniLM is frozen and deterministic);
# each seed draws its own training subset, heads, orders and data subsets.
TEXT_TRAIN_FRACTION = 0.8
TEXT_TABLES = ("models", "lines", "pairs", "errors")


def minilm_pool(s: Settings, device: torch.device) -> TextPool:
    """The text task's pool for this run (posts drawn from the run's first seed), embedded by the
    packaged all-MiniLM-L6-v2 (mean over tokens)."""
    from robustbook.embeddings.bidirectional import load_minilm, sentence_embeddings

    model, tokenizer = load_minilm()
    model = model.to(device)
    return text_pool(lambda texts: sentence_embeddings(model, tokenizer, texts), n_train=s.text_train,
                     n_test=s.text_test, severities=s.severities, seed=derive_seed(s.seed, "text-pool"))


def text_run_seed(s: Settings, pool: TextPool, seed: int, device: torch.device) -> dict[str, list[dict]]:
    """The three ensembles of ``s.text_models`` heads on one seed's view of the text pool: rows of
    the ``text_models``, ``text_lines``, ``text_pairs`` and ``text_errors`` tables."""
    feats = text_features(pool, train_fraction=TEXT_TRAIN_FRACTION, seed=derive_seed(seed, "text-split"))
    sub = dataclasses.replace(s, n_models=s.text_models)
    template, params, epochs = train_heads(sub, feats, derive_seed(seed, "text"), device)
    tables: dict[str, list[dict]] = {f"text_{n}": [] for n in TEXT_TABLES}
    for ensemble in ENSEMBLES:
        rows = evaluate_ensemble(template, params[ensemble], feats, epochs, {"seed": seed, "ensemble": ensemble})
        for name, part in rows.items():
            tables[f"text_{name}"] += part
    return tables


def speed_check(s: Settings, seed: int, epochs: int = 2, n_train: int = 1198,
                n_classes: int = 10) -> pd.DataFrame:
    """Seconds to train the K heads of a random-head ensemble for ``epochs`` epochs batched vs. in
    a Python loop (same inits, same data order; Gaussian features of the cpu run's shape), and
    the largest parameter difference between the two results."""
    k = s.n_models
    schedule = epoch_schedule(n_train, epochs=[epochs] * k, batch_size=s.batch_size,
                              order_seeds=[derive_seed(seed, "speed-order")] * k)
    gen = torch.Generator().manual_seed(derive_seed(seed, "speed-data"))
    x = torch.randn(n_train, s.backbone_width, generator=gen)
    y = torch.randint(0, n_classes, (n_train,), generator=gen)
    template, params = init_stacked(lambda: make_head(s.backbone_width, n_classes, s.head_init_scale),
                                    [derive_seed(seed, "speed-init", i) for i in range(k)])
    timing = time_batched_vs_looped(template, params, x, y, schedule, lr=s.lr)
    return pd.DataFrame([{**timing, "steps per model": int(schedule.steps().max())}])
