"""Chapter 02 · Scaling laws for data filtering (Goyal, Maini, Lipton, Raghunathan & Kolter, CVPR 2024).

Glue only: ``Config`` -> ``run`` -> ``Result`` (tables, fits, metrics, claims), plus plot functions
in ``plots``. The law, mixing rule, fitter and budget-limited training live in
``robustbook.scaling_laws``; the pools in ``robustbook.data.quality_pools`` and
``robustbook.data.caption_pools``; CLIP configs, training and zero-shot evaluation in
``robustbook.clip``; the shard reader in ``robustbook.data.webdataset_shards``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from robustbook.book.results import Claim
from robustbook.chapters.data_filtering_scaling import clip_toy, experiments, frontier, paper_clip
from robustbook.chapters.data_filtering_scaling.claims import judge_claims, metrics_from
from robustbook.chapters.data_filtering_scaling.config import PRESETS, Config, Settings
from robustbook.runtime import choose_device, seed_everything, set_threads
from robustbook.scaling_laws import LawFit

SLUG = "data-filtering-scaling"
__all__ = ["PRESETS", "SLUG", "Config", "Result", "Settings", "run"]


@dataclass
class Result:
    settings: Settings
    frontier_table: pd.DataFrame   # part 1: accuracy (%) per pool and budget, published constants
    frontier_metrics: dict         # part 1: best pool per budget with and without the tau * m quirk
    runs: pd.DataFrame             # part 2: seed, run, m, bucket, pool_size, budget, passes, error
    bayes: dict[int, float]        # part 2: Bayes error of each seed's mixture (the law's d)
    best: pd.DataFrame             # part 2: best pool width per budget, per seed and seed-mean
    fits: dict[str, LawFit]        # part 3: "mean", "no_decay", "seed N"
    prediction: pd.DataFrame       # part 3: budget, m, measured, predicted, passes, fitted
    agreement: dict                # part 3: best-pool agreement, Spearman, MAE
    clip: pd.DataFrame             # part 4: seed, m, pool_size, budget, passes, accuracy
    seconds: dict[str, float] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)


def _timed(seconds: dict, name: str, fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    seconds[name] = round(time.perf_counter() - start, 2)
    return out


def run(config: Config) -> Result:
    """Run the chapter's four parts at ``config``'s preset and judge the claims. The paper preset
    checks its shards before any training."""
    s = config.resolve()
    set_threads(s.threads)
    seed_everything(s.seed)
    device = choose_device(s.device)
    paper_data = paper_clip.check_paper_data(s.data_dir) if s.clip_data == "webdataset" else None
    seconds: dict[str, float] = {}
    runs, bayes = _timed(seconds, "pools", experiments.sweep, s, device)
    fits = _timed(seconds, "fit", experiments.fit_buckets, runs, bayes)
    prediction = experiments.prediction_table(runs, fits["mean"], s)
    clip = (_timed(seconds, "clip", paper_clip.paper_clip_runs, s, device, paper_data) if paper_data
            else _timed(seconds, "clip", clip_toy.clip_runs, s, device))
    result = Result(settings=s, frontier_table=frontier.frontier_table(scale_tau=s.scale_tau),
                    frontier_metrics=frontier.frontier_metrics(), runs=runs, bayes=bayes,
                    best=experiments.best_pools(runs), fits=fits, prediction=prediction,
                    agreement=experiments.rank_agreement(prediction), clip=clip, seconds=seconds)
    result.metrics = metrics_from(result)
    result.claims = judge_claims(result.metrics, s.preset)
    return result
