"""Chapter 06 · AutoFT: learning an objective for robust fine-tuning (Choi et al., 2024).

Glue only: ``Config`` -> ``run`` -> ``Result``; tables in ``tables``, figures and the explorer in
``plots``. The capabilities live in ``robustbook.autoft`` (loss terms and the weighted objective,
fine-tuning with the searched lr applied, WiSE-FT, the resumable Optuna search, the task and its
evaluation, the iWildCam/OpenCLIP task), ``robustbook.data.iwildcam`` (the WILDS files),
``robustbook.data.digit_shifts`` and ``robustbook.models.frozen_features`` (the cpu backbone).
"""

from __future__ import annotations

import pandas as pd
from tqdm.auto import tqdm

from robustbook.book.chapter import finish, start
from robustbook.chapters.autoft import experiments
from robustbook.chapters.autoft.claims import EXPECTED, judge_claims, metrics_from
from robustbook.chapters.autoft.config import PRESETS, TUNING_SEEDS, Config, Settings
from robustbook.chapters.autoft.result import Result

SLUG = "autoft"
__all__ = ["EXPECTED", "PRESETS", "SLUG", "TUNING_SEEDS", "Config", "Result", "Settings", "run"]


def _paper_task(s: Settings, device):
    from robustbook.autoft.clip_task import iwildcam_task
    from robustbook.models.clip_features import load_open_clip

    model = load_open_clip(s.clip_model, s.clip_pretrained, device)
    return iwildcam_task(model, s.data_dir, n_ood_val=s.n_ood_val, max_per_split=s.max_per_split,
                         seed=s.seed, device=device)


def run(config: Config, progress: bool | None = None) -> Result:
    """Every reported seed: the task, the baselines and the three searches; then the claims.
    The paper preset checks its data and weights before any work (``Config.require_data``)."""
    ctx = start(config, progress)
    s: Settings = ctx.settings
    shared = _paper_task(s, ctx.device) if s.backbone == "open_clip" else None
    tables: dict[str, list] = {"scores": [], "trials": [], "lr_log": []}
    for seed in tqdm(s.seeds, desc="seeds", disable=not ctx.progress):
        task, make = shared if shared is not None else experiments.digits_task(s, seed)
        for name, rows in experiments.run_seed(task, make, s, seed, ctx.progress).items():
            tables[name] += rows
    result = Result(settings=s, scores=pd.DataFrame(tables["scores"]),
                    trials=pd.concat(tables["trials"], ignore_index=True),
                    lr_log=pd.DataFrame(tables["lr_log"]))
    return finish(ctx, result, metrics_from, judge_claims)
