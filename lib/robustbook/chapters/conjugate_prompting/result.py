"""Chapter 10's ``Result``: what ``run`` measured, as typed tables (plots and claims read it)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from robustbook.book.chapter import ChapterResult
from robustbook.chapters.conjugate_prompting.config import Settings


@dataclass
class Result(ChapterResult):
    settings: Settings
    losses: pd.DataFrame        # per seed, model, family, c, ft_steps, examples: mse (noisy-target squared error)
    models: pd.DataFrame        # per seed, model, ft_steps: implied_prior (P(discrete) of the closest Bayes predictor), seconds
    round_trip_gap: float       # max |answer(conjugate) - answer| and |s^-1(s(x)) - x| over all seeds
    llm: pd.DataFrame           # paper preset: per model, task, language: icl_accuracy (empty otherwise)
