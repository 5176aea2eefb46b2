"""Chapter 08's ``Result``: what ``run`` measured, as typed tables (plots and claims read it)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from robustbook.book.chapter import ChapterResult
from robustbook.chapters.multitask_groups.config import Settings


@dataclass
class Result(ChapterResult):
    settings: Settings
    methods: pd.DataFrame        # per task, method, seed: selected epoch, val/test worst-group, test avg, group_0..3
    sensitivity: pd.DataFrame    # per w_mt, w_reg, seed: the same numbers (tabular task)
    designs: pd.DataFrame        # per design, method (erm, mtl_l1), seed: the same numbers
    group_counts: dict           # {task: {split: [n per group]}} of the first reported seed
