"""Chapter 01's ``Result``: what ``run`` measured, as typed tables (plots and claims read it)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from robustbook.book.chapter import ChapterResult
from robustbook.chapters.sam_label_noise.config import Settings


@dataclass
class Result(ChapterResult):
    settings: Settings
    curves: pd.DataFrame          # deep section, per epoch: method, seed, epoch, test_acc, memorized, clean_fit
    summary: pd.DataFrame         # deep section, per method and seed: best_acc, best_epoch, final_acc, ...
    one_sam: pd.DataFrame         # training subset, per sam_mode, method and seed: as ``summary``
    linear: pd.DataFrame          # linear toy, per step: rho, seed, clean/noisy weights, ratio
    two_layer: pd.DataFrame       # two-layer linear net, per step: method, seed, norms
    gradient_gaps: list[float]    # |autodiff J-SAM - closed form|, one per seed
