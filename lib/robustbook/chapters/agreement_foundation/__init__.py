"""Chapter 03 · Agreement-on-the-line for fine-tuned foundation models (Saxena et al., NeurIPS 2024).

Glue only: ``Config`` -> ``run`` -> ``Result`` (tables, metrics, claims), plus plot functions in
``plots``. The algorithms live in ``robustbook.shift`` (agreement, probit lines, ALine-S/-D,
baselines, corruptions) and ``robustbook.ensembles`` (batched training of many heads).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from robustbook.book.results import Claim, mean_std
from robustbook.chapters.agreement_foundation import experiments, features
from robustbook.chapters.agreement_foundation.claims import judge_claims, metrics_from
from robustbook.chapters.agreement_foundation.config import PRESETS, Config, Settings
from robustbook.chapters.agreement_foundation.experiments import (
    ENSEMBLE_LABELS,
    ENSEMBLES,
    METHOD_LABELS,
    METHODS,
)
from robustbook.runtime import choose_device, seed_everything, set_threads

SLUG = "agreement-foundation"
__all__ = ["PRESETS", "SLUG", "Config", "Result", "Settings", "error_table", "lines_table", "run"]


@dataclass
class Result:
    settings: Settings
    models: pd.DataFrame   # per seed, ensemble, shift, model: epochs, acc_id, acc_ood, est_<method>
    lines: pd.DataFrame    # per seed, ensemble, shift: accuracy and agreement lines, refusals
    pairs: pd.DataFrame    # per seed, ensemble, shift, pair i < j: ID and OOD agreement, usable
    errors: pd.DataFrame   # per seed, ensemble, shift, method: MAE (points) and MAPE (%)
    metrics: dict = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)


def run(config: Config) -> Result:
    """Train the three ensembles for every seed, evaluate every estimator on every shift, and
    judge the claims. The paper preset checks its data files before any work."""
    s = config.resolve()
    set_threads(s.threads)
    seed_everything(s.seed)
    device = choose_device(s.device)
    shared = None
    if s.backbone == "open_clip":
        features.check_paper_data(s)
        shared = features.clip_features(s, device)
    tables: dict[str, list[dict]] = {"models": [], "lines": [], "pairs": []}
    for seed in s.seeds:
        feats = shared if shared is not None else features.digits_features(s, seed)
        for name, rows in experiments.run_seed(s, feats, seed, device).items():
            tables[name] += rows
    models = pd.DataFrame(tables["models"])
    result = Result(s, models, pd.DataFrame(tables["lines"]), pd.DataFrame(tables["pairs"]),
                    experiments.errors_table(models))
    result.metrics = metrics_from(result)
    result.claims = judge_claims(result.metrics, s.preset)
    return result


def error_table(result: Result, measure: str = "mae") -> pd.DataFrame:
    """``measure`` ("mae": points, "mape": %) per method (rows) and ensemble (columns), averaged
    over shifts within a seed, then mean ± std over seeds."""
    per_seed = result.errors.groupby(["ensemble", "method", "seed"])[measure].mean().reset_index()
    table = {}
    for e in ENSEMBLES:
        table[ENSEMBLE_LABELS[e]] = {
            METHOD_LABELS[m]: mean_std(per_seed[(per_seed.ensemble == e) & (per_seed.method == m)][measure],
                                       digits=2)
            for m in METHODS}
    return pd.DataFrame(table).rename_axis(f"{measure.upper()} ({'points' if measure == 'mae' else '%'})")


def lines_table(result: Result) -> pd.DataFrame:
    """Slope, bias and R² of the accuracy and agreement lines per ensemble (probit scale),
    averaged over shifts within a seed, then mean ± std over seeds; ID accuracy range."""
    rows = []
    for e in ENSEMBLES:
        g = result.lines[result.lines.ensemble == e].groupby("seed")
        acc = result.models[result.models.ensemble == e].groupby("seed")["acc_id"]
        row = {"ensemble": ENSEMBLE_LABELS[e],
               "ID accuracy (%)": f"{100 * acc.min().mean():.0f}–{100 * acc.max().mean():.0f}"}
        for col, label in (("acc_slope", "acc. slope"), ("agr_slope", "agr. slope"),
                           ("acc_bias", "acc. bias"), ("agr_bias", "agr. bias"),
                           ("acc_r2", "acc. R²"), ("agr_r2", "agr. R²")):
            row[label] = mean_std(g[col].mean(), digits=2)
        row["ALine refusals"] = int((result.lines[result.lines.ensemble == e]["refused"] != "").sum())
        rows.append(row)
    return pd.DataFrame(rows).set_index("ensemble")
