"""Chapter 06's typed result: long tables every figure, table and claim is computed from."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from robustbook.book.chapter import ChapterResult
from robustbook.chapters.autoft.config import Settings


@dataclass(kw_only=True)
class Result(ChapterResult):
    settings: Settings
    scores: pd.DataFrame   # per seed, method (and WiSE-FT alpha): id_val, ood_val, id_test, ood_test,
                           # test:<shift>; searches also lr, weight_decay, hp_seed, w_<term>
    trials: pd.DataFrame   # per seed, search, trial: value (the searched score), params, the four scores
    lr_log: pd.DataFrame   # per seed, search: searched lr, lr applied at the first step, max rel. error
