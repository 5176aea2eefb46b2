"""Chapter 07's ``Result``: what ``run`` measured, as typed tables (plots and claims read it)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from robustbook.book.chapter import ChapterResult
from robustbook.chapters.contrastive_selftraining.config import Settings


@dataclass
class Result(ChapterResult):
    settings: Settings
    theory: pd.DataFrame        # per seed, setting ("shift" / "no-shift") and method: target_acc
    paths: pd.DataFrame         # self-training paths: seed, init ("ERM" / "CL"), step, invariant, spurious, acc
    scales: pd.DataFrame        # ST and STOC target accuracy per seed and logit scale
    encoders: pd.DataFrame      # per seed: closed-form / SGD encoder losses, optimum, alignment
    images: pd.DataFrame        # per seed and method: target test accuracy
    fixmatch: pd.DataFrame      # per seed, method ("FixMatch" / "STOC") and epoch: mask_rate, pseudo_acc
    bayes_target_acc: float
