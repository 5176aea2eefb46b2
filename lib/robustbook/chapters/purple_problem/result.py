"""Chapter 04's ``Result``: what ``run`` measured, as typed tables (plots and claims read it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from robustbook.book.chapter import ChapterResult
from robustbook.chapters.purple_problem.config import Settings


@dataclass
class Result(ChapterResult):
    settings: Settings
    defense: pd.DataFrame       # per seed: purple rate before/after DPO, benign accuracy, threshold, timings
    replies: pd.DataFrame       # per seed, attack (none, gcg, adaptive) and prompt: suffix, reply, verdicts
    curves: pd.DataFrame        # per seed, attack, prompt and GCG step: best objective so far
    subjects: dict = field(default_factory=dict, repr=False)   # seed -> defended Subject (for the explorer)
