"""Chapter 10 · Forgetting as skewed task inference, and conjugate prompting
(Kotha, Springer & Raghunathan, ICLR 2024).

Glue only: ``Config`` -> ``run`` -> ``Result``; tables in ``tables``, figures and the explorer in
``plots``. The algorithms (task samplers, the in-context GPT-2, Bayes-optimal predictors, conjugate
transforms, LLM prompt datasets and scoring) live in ``robustbook.icl``.
"""

from __future__ import annotations

import pandas as pd

from robustbook.book.chapter import finish, start
from robustbook.chapters.conjugate_prompting import experiments
from robustbook.chapters.conjugate_prompting.claims import EXPECTED, judge_claims, metrics_from
from robustbook.chapters.conjugate_prompting.config import PRESETS, Config, Settings
from robustbook.chapters.conjugate_prompting.llm import llm_scores
from robustbook.chapters.conjugate_prompting.result import Result

SLUG = "conjugate-prompting"
__all__ = ["EXPECTED", "PRESETS", "SLUG", "Config", "Result", "Settings", "run"]


def run(config: Config, progress: bool | None = None) -> Result:
    """Pretrain, fine-tune and probe the in-context regressors for every reported seed and judge
    the claims; the paper preset also scores the LLMs (checked by ``start`` before any work)."""
    ctx = start(config, progress)
    s = ctx.settings
    losses, models = experiments.all_seeds(s, ctx.device, ctx.progress)
    llm = (llm_scores(s.data_dir, s.lm_names, s.languages, s.n_llm_prompts, s.seed, ctx.device, ctx.progress)
           if s.lm_names else pd.DataFrame(columns=["model", "task", "language", "icl_accuracy"]))
    result = Result(settings=s, losses=losses, models=models, llm=llm,
                    round_trip_gap=max(experiments.conjugate_round_trip_gap(s, seed) for seed in s.seeds))
    return finish(ctx, result, metrics_from, judge_claims)
