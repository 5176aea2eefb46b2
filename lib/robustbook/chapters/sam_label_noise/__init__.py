"""Chapter 01 · Why is SAM robust to label noise? (Baek, Kolter & Raghunathan, ICLR 2024).

Glue only: ``Config`` -> ``run`` -> ``Result`` (tables, metrics, claims), plus plot functions in
``plots``. The algorithms live in ``robustbook.optim`` (SAM family, penalties) and the training loop
in ``robustbook.train``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from robustbook.book.results import Claim, mean_std
from robustbook.book.widgets import is_static
from robustbook.chapters.sam_label_noise import experiments
from robustbook.chapters.sam_label_noise.claims import judge_claims, metrics_from
from robustbook.chapters.sam_label_noise.config import PRESETS, Config, Settings
from robustbook.runtime import choose_device, seed_everything, set_threads

SLUG = "sam-label-noise"
__all__ = ["PRESETS", "SLUG", "Config", "Result", "Settings", "run", "summary_table"]


@dataclass
class Result:
    settings: Settings
    curves: pd.DataFrame          # deep section, per epoch: method, seed, test_acc, memorized, ...
    summary: pd.DataFrame         # deep section, per method and seed: best_acc, final_acc, ...
    linear: pd.DataFrame          # linear toy, per step: rho, seed, clean/noisy weights, ratio
    two_layer: pd.DataFrame       # two-layer linear net, per step: method, seed, norms
    gradient_gaps: list[float]    # |autodiff J-SAM - closed form|, one per seed
    metrics: dict = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)


def run(config: Config, progress: bool | None = None) -> Result:
    """Run the chapter's three experiments at ``config``'s preset and judge the claims.
    ``progress`` (default: on, except when the book is being built) shows tqdm bars."""
    s = config.resolve()
    progress = not is_static() if progress is None else progress
    set_threads(s.threads)
    seed_everything(s.seed)
    device = choose_device(s.device)
    if s.dataset == "cifar10":  # fail on missing data before any training
        experiments.load_cifar10(s.data_dir)
    curves = experiments.deep_runs(s, device, progress=progress)
    result = Result(
        settings=s,
        curves=curves,
        summary=experiments.summarize_deep(curves),
        linear=experiments.linear_weight_ratios(s),
        two_layer=experiments.two_layer_norms(s),
        gradient_gaps=[experiments.two_layer_gradient_gap(seed) for seed in s.seeds],
    )
    result.metrics = metrics_from(result)
    result.claims = judge_claims(result.metrics, s.preset)
    return result


def summary_table(result: Result) -> pd.DataFrame:
    """Best (early-stopped) and final clean test accuracy per method, in %, mean ± std over seeds."""
    rows = []
    for method, label in experiments.METHOD_LABELS.items():
        g = result.summary[result.summary["method"] == method]
        if g.empty:
            continue
        rows.append({"method": label,
                     "best acc. (%)": mean_std(g["best_acc"], 100),
                     "best epoch": f"{g['best_epoch'].mean():.1f}",
                     "final acc. (%)": mean_std(g["final_acc"], 100),
                     "wrong labels fitted at the end (%)": mean_std(g["final_memorized"], 100)})
    return pd.DataFrame(rows).set_index("method")
