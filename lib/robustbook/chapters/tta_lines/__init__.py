"""Chapter 09 · Test-time adaptation induces stronger accuracy and agreement lines (Kim, Sun, Baek,
Raghunathan & Kolter, NeurIPS 2024).

Glue only: ``Config`` -> ``run`` -> ``Result`` (metrics, claims), tables in ``tables``, figures and
the explorer in ``plots``. The capabilities live in ``robustbook.tta`` (BN_Adapt, TENT, ETA, the
grouped BatchNorm zoo, feature statistics, the paper's CIFAR-10-C path), ``robustbook.shift``
(probit lines, ALine-S/-D, baselines, corruptions) and ``robustbook.data.digit_shifts``.
"""

from __future__ import annotations

import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from robustbook.book.chapter import finish, start
from robustbook.chapters.tta_lines import experiments
from robustbook.chapters.tta_lines.claims import EXPECTED, judge_claims, metrics_from
from robustbook.chapters.tta_lines.config import PRESETS, TUNING_SEEDS, Config, Settings
from robustbook.chapters.tta_lines.result import Result

SLUG = "tta-lines"
__all__ = ["EXPECTED", "PRESETS", "SLUG", "TUNING_SEEDS", "Config", "Result", "Settings", "run"]


def run(config: Config, progress: bool | None = None) -> Result:
    """Train the zoo for every reported seed, adapt it to every shift with every method, and judge
    the claims. The paper preset checks data and models before any work (``start``)."""
    ctx = start(config, progress)
    s: Settings = ctx.settings
    paper = s.preset == "paper"
    per_seed = len(s.corruptions) * len(s.severities) + (0 if paper else len(s.zoo) * max(s.snapshots))
    tables: dict[str, list[dict]] = {k: [] for k in experiments.TABLES}
    # numpy's BLAS (ALine-D's least squares) gets the chapter's thread count too
    with threadpool_limits(s.threads or None), tqdm(total=per_seed * len(s.seeds), disable=not ctx.progress,
                                                    desc="zoo epochs and shifts") as bar:
        for seed in s.seeds:
            run_seed = experiments.run_paper if paper else experiments.run_seed
            for name, rows in run_seed(s, seed, bar.update).items():
                tables[name] += rows
    result = Result(settings=s, **{name: pd.DataFrame(rows) for name, rows in tables.items()})
    return finish(ctx, result, metrics_from, judge_claims)
