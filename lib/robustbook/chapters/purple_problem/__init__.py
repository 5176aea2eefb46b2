"""Chapter 04 · Jailbreak defenses and the purple problem (Kim, Kotha & Raghunathan, 2024).

Glue only: ``Config`` -> ``run`` -> ``Result`` (judged in ``claims``), tables in ``tables``,
figures and the explorer in ``plots``. The corpus, DPO, GCG and the filters live in
``robustbook.jailbreak``; the tiny GPT-2 and its training loop in ``robustbook.models.tiny_lm``.
"""

from __future__ import annotations

import pandas as pd

from robustbook.book.chapter import RunContext, finish, start
from robustbook.chapters.purple_problem import attacks, experiments
from robustbook.chapters.purple_problem.claims import EXPECTED, judge_claims, metrics_from
from robustbook.chapters.purple_problem.config import PRESETS, Config, Settings
from robustbook.chapters.purple_problem.result import Result

SLUG = "purple-problem"
__all__ = ["EXPECTED", "PRESETS", "SLUG", "Config", "Result", "Settings", "run"]


def _subject(ctx: RunContext, seed: int) -> experiments.Subject:
    s = ctx.settings
    if s.train_lm:
        return experiments.train_subject(s, seed, ctx.device, ctx.progress)
    from robustbook.chapters.purple_problem import paper
    return paper.paper_subject(s, ctx.device)


def run(config: Config, progress: bool | None = None) -> Result:
    """Run the chapter at ``config``'s preset and judge the claims. The paper preset checks its
    model and questions before any work (``Config.require_data``, called by ``start``)."""
    ctx = start(config, progress)
    s: Settings = ctx.settings
    defense, rows, curves, subjects = [], [], [], {}
    for seed in s.seeds:
        subject = _subject(ctx, seed)
        measured = experiments.defense_metrics(subject, s)
        defense.append({"seed": seed, **measured})
        threshold = measured["ppl_threshold"]
        rows += experiments.clean_rows(subject, s, seed, threshold)
        for adaptive in (False, True):
            r, c = attacks.run_attack(subject, s, seed, threshold, adaptive, ctx.progress)
            rows, curves = rows + r, curves + c
        subjects[seed] = subject
    result = Result(settings=s, defense=pd.DataFrame(defense), replies=pd.DataFrame(rows),
                    curves=pd.DataFrame(curves), subjects=subjects)
    return finish(ctx, result, metrics_from, judge_claims)
