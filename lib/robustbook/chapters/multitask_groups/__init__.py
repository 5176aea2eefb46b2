"""Chapter 08 · Multitask learning for worst-group outcomes (Kulkarni et al., TMLR 2024).

Glue only: ``Config`` -> ``run`` -> ``Result``; tables in ``tables``, figures and the explorer in
``plots``. The algorithms (group data and metrics, JTT, the multitask model and its loss, batched
training, worst-group model selection) live in ``robustbook.groups``; the paper preset's loaders
and transformers models in ``robustbook.groups.paper``.
"""

from __future__ import annotations

from robustbook.book.chapter import finish, start
from robustbook.chapters.multitask_groups import experiments
from robustbook.chapters.multitask_groups.claims import EXPECTED, judge_claims, metrics_from
from robustbook.chapters.multitask_groups.config import PRESETS, Config, Settings
from robustbook.chapters.multitask_groups.result import Result

SLUG = "multitask-groups"
__all__ = ["EXPECTED", "PRESETS", "SLUG", "Config", "Result", "Settings", "run"]

# The data designs the gain is re-measured under (the chapter's design: raw feature scales, label
# shifting the core features directly, P(a = y) = 0.97, core signal 1.0).
DESIGNS = ({"standardize": True}, {"label_in_latent": True, "core_signal": 1.2},
           {"spurious_strength": 0.9}, {"spurious_strength": 0.99}, {"core_signal": 0.7},
           {"core_signal": 1.5})


def run(config: Config, progress: bool | None = None) -> Result:
    """Run the chapter at ``config``'s preset and judge the claims. The paper preset checks its
    data and model before any training."""
    ctx = start(config, progress)
    s, device = ctx.settings, ctx.device
    if s.dataset != "synthetic":
        from robustbook.chapters.multitask_groups.paper_run import run_paper

        return finish(ctx, run_paper(s, device, ctx.progress), metrics_from, judge_claims)
    tasks = ["main", "image"] if s.image_task else ["main"]
    methods = [experiments.method_runs(s, t, device, ctx.progress) for t in tasks]
    result = Result(
        settings=s,
        methods=methods[0] if len(methods) == 1 else experiments.pd.concat(methods, ignore_index=True),
        sensitivity=experiments.sensitivity_runs(s, device, ctx.progress),
        designs=experiments.design_runs(s, device, DESIGNS, ctx.progress),
        group_counts=experiments.group_counts(s, tasks),
    )
    return finish(ctx, result, metrics_from, judge_claims)
