"""Chapter 02 · Scaling laws for data filtering (Goyal, Maini, Lipton, Raghunathan & Kolter, CVPR 2024).

Glue only: ``Config`` -> ``run`` -> ``Result`` (tables, fits, metrics, claims); tables in
``tables``, figures and the explorer in ``plots``. The law, mixing rule, fitter and budget-limited
training live in ``robustbook.scaling_laws``; the pools in ``robustbook.data.quality_pools`` and
``robustbook.data.caption_pools``; CLIP configs, training and zero-shot evaluation in
``robustbook.clip``; the shard reader in ``robustbook.data.webdataset_shards``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from robustbook.book.chapter import finish, start
from robustbook.chapters.data_filtering_scaling import clip_toy, experiments, frontier, paper_clip
from robustbook.chapters.data_filtering_scaling.claims import EXPECTED, judge_claims, metrics_from
from robustbook.chapters.data_filtering_scaling.config import PRESETS, Config, Settings
from robustbook.chapters.data_filtering_scaling.result import Result

SLUG = "data-filtering-scaling"
__all__ = ["EXPECTED", "PRESETS", "SLUG", "Config", "Result", "Settings", "run"]


def _timed(seconds: dict[str, float], name: str, fn: Callable, *args: Any) -> Any:
    begin = time.perf_counter()
    out = fn(*args)
    seconds[name] = round(time.perf_counter() - begin, 2)
    return out


def run(config: Config, progress: bool | None = None) -> Result:
    """Run the chapter's four parts at ``config``'s preset and judge the claims. The paper preset
    checks its shards before any training."""
    ctx = start(config, progress)
    s, device = ctx.settings, ctx.device
    paper_data = paper_clip.check_paper_data(s.data_dir) if s.clip_data == "webdataset" else None
    seconds: dict[str, float] = {}
    runs, bayes = _timed(seconds, "pools", experiments.sweep, s, device)
    fits = _timed(seconds, "fit", experiments.fit_buckets, runs, bayes)
    clip = (_timed(seconds, "clip", paper_clip.paper_clip_runs, s, device, paper_data) if paper_data
            else _timed(seconds, "clip", clip_toy.clip_runs, s, device))
    result = Result(settings=s, frontier_table=frontier.frontier_table(scale_tau=s.scale_tau),
                    frontier_metrics=frontier.frontier_metrics(), runs=runs, bayes=bayes,
                    best=experiments.best_pools(runs), fits=fits,
                    prediction=experiments.prediction_table(runs, fits, s), clip=clip,
                    part_seconds=seconds)
    return finish(ctx, result, metrics_from, judge_claims)
