"""Chapter 03's typed result: the long tables every figure, table and claim is computed from."""

from __future__ import annotations

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
