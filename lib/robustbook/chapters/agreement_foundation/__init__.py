"""Chapter 03 · Agreement-on-the-line for fine-tuned foundation models (Saxena et al., NeurIPS 2024).

Glue only: ``Config`` -> ``run`` -> ``Result`` (metrics, claims), tables in ``tables``, figures
and the explorer in ``plots``. The capabilities live in ``robustbook.shift`` (agreement, probit
lines, ALine-S/-D, baselines, the estimator battery), ``robustbook.ensembles`` (batched training,
one-source-of-randomness ensembles), ``robustbook.models.frozen_features`` and
``robustbook.data.digit_shifts`` (frozen features and shifted sets), and
``robustbook.models.open_clip_weights`` (the paper preset's offline weights check); the language
version's task in ``robustbook.data.text_topics`` and its MiniLM features in
``robustbook.models.frozen_features.text_pool``.
"""

from __future__ import annotations

import pandas as pd

from robustbook.book.chapter import finish, start
from robustbook.chapters.agreement_foundation import experiments
from robustbook.chapters.agreement_foundation.claims import EXPECTED, judge_claims, metrics_from
from robustbook.chapters.agreement_foundation.config import PRESETS, TUNING_SEEDS, Config, Settings
from robustbook.chapters.agreement_foundation.result import Result
from robustbook.models.clip_features import load_open_clip
from robustbook.models.frozen_features import FeatureSet, clip_features

SLUG = "agreement-foundation"
__all__ = ["EXPECTED", "PRESETS", "SLUG", "TUNING_SEEDS", "Config", "Result", "Settings", "run"]


def paper_features(s: Settings, device) -> FeatureSet:
    """OpenCLIP features of CIFAR-10 / -10.1 / -10-C, computed once and shared by every seed."""
    model = load_open_clip(s.clip_model, s.clip_pretrained, device)
    return clip_features(model, s.data_dir, corruptions=s.corruptions, severities=s.severities,
                         n_train=s.n_train)


def run(config: Config, progress: bool | None = None) -> Result:
    """Train the three ensembles for every reported seed, evaluate every estimator on every
    shift, and judge the claims. The paper preset checks data and weights before any work."""
    ctx = start(config, progress)
    s: Settings = ctx.settings
    shared = None
    if s.backbone == "open_clip":  # data and weights were checked by start (Config.require_data)
        shared = paper_features(s, ctx.device)
    names = ("models", "lines", "pairs", "errors", "cross", "cross_models",
             *(f"text_{n}" for n in experiments.TEXT_TABLES))
    tables: dict[str, list[dict]] = {name: [] for name in names}
    text = experiments.minilm_pool(s, ctx.device) if s.text_models else None
    for seed in s.seeds:
        digits = experiments.digits_data(s, seed) if shared is None else None
        feats = shared if shared is not None else experiments.cpu_features(s, seed, digits)
        parts = experiments.run_seed(s, feats, seed, ctx.device, digits)
        if text is not None:
            parts.update(experiments.text_run_seed(s, text, seed, ctx.device))
        for name, rows in parts.items():
            tables[name] += rows
    frames = {name: pd.DataFrame(rows) for name, rows in tables.items()}
    result = Result(settings=s, **frames, speed=experiments.speed_check(s, s.seed))
    return finish(ctx, result, metrics_from, judge_claims)
