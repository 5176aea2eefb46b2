"""Chapter 03's typed result: the long tables every figure, table and claim is computed from."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from robustbook.book.chapter import ChapterResult
from robustbook.chapters.agreement_foundation.config import Settings


@dataclass(kw_only=True)
class Result(ChapterResult):
    settings: Settings
    models: pd.DataFrame   # per seed, ensemble, shift, model: epochs, acc_id, acc_ood, est_<method>
    lines: pd.DataFrame    # per seed, ensemble, shift: both lines, their gaps, usable pairs, refusal
    pairs: pd.DataFrame    # per seed, ensemble, shift, pair i < j: ID and OOD agreement, usable
    errors: pd.DataFrame   # per seed, ensemble, shift, method: MAE (points), MAPE (%), refused
    speed: pd.DataFrame    # batched vs looped training of one ensemble: seconds, max |param diff|
    cross: pd.DataFrame    # mixed-backbone ensemble, per seed and shift: lines, gaps, MAE per method (may be empty)
    cross_models: pd.DataFrame  # ... per seed, shift and model: backbone, acc_id, acc_ood
    # the language version (MiniLM on shifted text), same columns as models/lines/pairs/errors (may be empty)
    text_models: pd.DataFrame
    text_lines: pd.DataFrame
    text_pairs: pd.DataFrame
    text_errors: pd.DataFrame

    @property
    def has_text(self) -> bool:
        return self.text_lines is not None and not self.text_lines.empty

    def text_view(self) -> Result:
        """This result with the language version's tables in place of the image ones, so every
        table, figure and metric of the image experiment can be drawn for the text one."""
        return dataclasses.replace(self, models=self.text_models, lines=self.text_lines,
                                   pairs=self.text_pairs, errors=self.text_errors)
