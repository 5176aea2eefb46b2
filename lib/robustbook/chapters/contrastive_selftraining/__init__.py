"""Chapter 07 · Complementary benefits of contrastive learning and self-training under
distribution shift (Garg, Setlur, Lipton, Balakrishnan, Smith & Raghunathan, NeurIPS 2023).

Glue only: ``Config`` -> ``run`` -> ``Result``; tables in ``tables``, figures and the explorer in
``plots``. Algorithms live in ``robustbook.selftrain``; data in ``robustbook.data.spurious`` and
``robustbook.data.wilds_loaders``.
"""

from __future__ import annotations

from robustbook.book.chapter import finish, start
from robustbook.chapters.contrastive_selftraining import experiments
from robustbook.chapters.contrastive_selftraining.claims import EXPECTED, judge_claims, metrics_from
from robustbook.chapters.contrastive_selftraining.config import PRESETS, Config, Settings
from robustbook.chapters.contrastive_selftraining.result import Result
from robustbook.data.spurious import SpuriousModel

SLUG = "contrastive-selftraining"
__all__ = ["EXPECTED", "PRESETS", "SLUG", "Config", "Result", "Settings", "run"]


def run(config: Config, progress: bool | None = None) -> Result:
    """Run the theory model and the image experiment and judge the claims. The paper preset checks
    its data before any training (in ``start``)."""
    ctx = start(config, progress)  # the paper preset's data were checked (Config.require_data)
    s = ctx.settings
    theory, paths, scales, encoders = experiments.theory_runs(s, ctx.progress)
    images, fixmatch = experiments.image_runs(s, ctx.device, ctx.progress)
    result = Result(settings=s, theory=theory, paths=paths, scales=scales, encoders=encoders, images=images,
                    fixmatch=fixmatch, bayes_target_acc=SpuriousModel(dim_inv=s.dim_inv).bayes_target_accuracy())
    return finish(ctx, result, metrics_from, judge_claims)
