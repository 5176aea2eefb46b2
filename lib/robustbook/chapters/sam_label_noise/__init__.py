"""Chapter 01 · Why is SAM robust to label noise? (Baek, Kolter & Raghunathan, ICLR 2024).

Glue only: ``Config`` -> ``run`` -> ``Result``; tables in ``tables``, figures and the explorer in
``plots``. The algorithms live in ``robustbook.optim`` (SAM family, penalties) and the training loop
in ``robustbook.train``.
"""

from __future__ import annotations

from robustbook.book.chapter import finish, start
from robustbook.chapters.sam_label_noise import experiments
from robustbook.chapters.sam_label_noise.claims import EXPECTED, judge_claims, metrics_from
from robustbook.chapters.sam_label_noise.config import PRESETS, Config, Settings
from robustbook.chapters.sam_label_noise.result import Result

SLUG = "sam-label-noise"
__all__ = ["EXPECTED", "PRESETS", "SLUG", "Config", "Result", "Settings", "run"]


def run(config: Config, progress: bool | None = None) -> Result:
    """Run the chapter's experiments at ``config``'s preset and judge the claims. The paper preset
    checks its data before any training (``Config.require_data``, called by ``start``)."""
    ctx = start(config, progress)
    s, device = ctx.settings, ctx.device
    curves = experiments.deep_runs(s, device, progress=ctx.progress)
    result = Result(
        settings=s,
        curves=curves,
        summary=experiments.summarize_deep(curves),
        one_sam=experiments.one_sam_runs(s, device, progress=ctx.progress),
        linear=experiments.linear_weight_ratios(s),
        two_layer=experiments.two_layer_norms(s),
        gradient_gaps=[experiments.two_layer_gradient_gap(seed) for seed in s.seeds],
    )
    return finish(ctx, result, metrics_from, judge_claims)
