"""Chapter 09's typed result: the long tables every figure, table and claim is computed from."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from robustbook.book.chapter import ChapterResult
from robustbook.chapters.tta_lines.config import Settings


@dataclass(kw_only=True)
class Result(ChapterResult):
    settings: Settings
    models: pd.DataFrame     # per seed, shift, method, model: arch, epochs, acc_id, acc_ood, est_<estimator>
    lines: pd.DataFrame      # per seed, shift, method: accuracy and agreement lines (slope, bias, R²), mean accs
    errors: pd.DataFrame     # per seed, shift, method, estimator: MAE (points), refused
    pairs: pd.DataFrame      # per seed, shift, method, pair i < j: ID and OOD agreement
    features: pd.DataFrame   # focus shift, per seed, method, model: alpha, gamma, residuals, offset, slope
    selection: pd.DataFrame  # per seed, shift, TENT lr: true mean OOD accuracy and its estimates
    checks: pd.DataFrame     # per seed: what TENT changed (frozen vs BN parameters), entropy before/after
