"""Chapter 02's ``Result``: what ``run`` measured, as typed tables (plots, tables and claims read it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from robustbook.book.chapter import ChapterResult
from robustbook.chapters.data_filtering_scaling.config import Settings
from robustbook.scaling_laws import LawFit


@dataclass
class Result(ChapterResult):
    settings: Settings
    frontier_table: pd.DataFrame   # part 1: accuracy (%) per pool and budget, published constants
    frontier_metrics: dict         # part 1: best pool per budget with and without the tau * m quirk
    runs: pd.DataFrame             # part 2: seed, run, m, bucket, pool_size, budget, passes, error
    bayes: dict[int, float]        # part 2: Bayes error of each seed's mixture (the law's d)
    best: pd.DataFrame             # part 2: best pool width per budget, per seed and seed-mean
    fits: dict[str, LawFit]        # part 3: "mean", "no_decay", "seed N", "no_decay seed N"
    prediction: pd.DataFrame       # part 3: seed ("mean" too), budget, m, passes, measured, predicted, judged
    clip: pd.DataFrame             # part 4: seed, m, pool_size, budget, passes, accuracy
    part_seconds: dict[str, float] = field(default_factory=dict)  # wall time of each part
