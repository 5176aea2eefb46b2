"""Chapter 08's experiments: named steps over ``robustbook.groups``.

1. ``method_runs``: ERM, JTT, ERM + l1, MTL, MTL + l1 on one task for every reported seed, all
   models of all seeds trained at once; each model's checkpoint selected by worst-group
   validation accuracy (JTT: stage-2 checkpoints only).
2. ``sensitivity_runs``: worst-group accuracy over a grid of (MT weight, l1 weight).
3. ``design_runs``: ERM vs MTL + l1 as the data design changes (spurious strength, core signal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd
import torch

from robustbook.book.chapter import derive_seed, generator
from robustbook.chapters.multitask_groups.config import Settings
from robustbook.groups import GroupData, MethodSpec, digits_patch_task, synthetic_spurious_task, train_stacked
from robustbook.groups.jtt import train_jtt
from robustbook.groups.train import selected

METHODS = ("erm", "jtt", "erm_l1", "mtl", "mtl_l1")
METHOD_LABELS = {"erm": "ERM", "jtt": "JTT", "erm_l1": "ERM + ℓ1", "mtl": "MTL", "mtl_l1": "MTL + ℓ1"}
TASKS = {"main": "synthetic tabular task", "image": "digits with a spurious colour"}
GROUP_NAMES = ("y=0, a=0", "y=0, a=1 (minority)", "y=1, a=0 (minority)", "y=1, a=1")


def make_task(s: Settings, task: str, seed: int, **design) -> GroupData:
    """One seed's data: the synthetic tabular task (``design`` overrides ``spurious_strength``,
    ``core_signal``, ``standardize``, ``label_in_latent``) or the digits image task."""
    p = design.pop("spurious_strength", s.spurious_strength)
    gen = generator(seed, f"data-{task}")
    if task == "image":
        return digits_patch_task(gen=gen, p_agree=p, other_channel=design.get("other_channel", s.other_channel))
    design.pop("other_channel", None)
    design = {"core_signal": s.core_signal, "standardize": False, "label_in_latent": False, **design}
    return synthetic_spurious_task(n_train=s.n_train, n_val=s.n_val, n_test=s.n_test, gen=gen,
                                   p_agree=p, **design)


def for_task(s: Settings, task: str) -> Settings:
    """The settings a task trains with: the image task has its own method weights."""
    if task != "image":
        return s
    return replace(s, w_mt=s.image_w_mt, w_reg=s.image_w_reg, w_mt_alone=s.image_w_mt_alone,
                   w_reg_erm=s.image_w_reg_erm, jtt_epochs=s.image_jtt_epochs, jtt_up=s.image_jtt_up)


def loss_weights(s: Settings) -> dict[str, tuple[float, float]]:
    """(w_mt, w_reg) of every one-stage method."""
    return {"erm": (0.0, 0.0), "erm_l1": (0.0, s.w_reg_erm), "mtl": (s.w_mt_alone, 0.0),
            "mtl_l1": (s.w_mt, s.w_reg)}


def seed_pair(seed: int) -> tuple[int, int]:
    """(init seed, order seed) of a reported seed: every method of one seed starts from the same
    weights and sees the same batch order."""
    return derive_seed(seed, "init"), derive_seed(seed, "order")


def _spec(i: int, seed: int, w_mt: float = 0.0, w_reg: float = 0.0) -> MethodSpec:
    return MethodSpec(i, *seed_pair(seed), w_mt, w_reg)


def train_kw(s: Settings, device: torch.device) -> dict:
    return dict(width=s.width, epochs=s.epochs, batch_size=s.batch_size, lr=s.lr,
                mask_rate=s.mask_rate, device=device)


def rows(sel: dict, keys: Sequence[dict]) -> pd.DataFrame:
    """One row per model: its keys and its selected checkpoint's numbers."""
    rows = []
    for k, key in enumerate(keys):
        row = {**key, "epoch": int(sel["epoch"][k]), "val_worst": float(sel["val_worst"][k]),
               "test_worst": float(sel["test_worst"][k]), "test_avg": float(sel["test_avg"][k])}
        row.update({f"group_{g}": float(v) for g, v in enumerate(sel["test_group"][k])})
        rows.append(row)
    return pd.DataFrame(rows)


def method_runs(s: Settings, task: str, device: torch.device, progress: bool = True) -> pd.DataFrame:
    """All five methods x reported seeds on ``task``; one row per (method, seed) with the selected
    epoch, worst-group val/test accuracy, average test accuracy and per-group test accuracy."""
    s = for_task(s, task)
    data = [make_task(s, task, seed) for seed in s.seeds]
    weights = loss_weights(s)
    keys = [{"task": task, "method": m, "seed": seed} for seed in s.seeds for m in weights]
    specs = [_spec(i, seed, *weights[m]) for i, seed in enumerate(s.seeds) for m in weights]
    _, history = train_stacked(data, specs, **train_kw(s, device),
                               progress=f"{task}: 4 methods x {s.n_seeds} seeds" if progress else False)
    frames = [rows(selected(history), keys)]
    counts = {seed: _test_counts(d) for seed, d in zip(s.seeds, data)}
    jtt_specs = [_spec(i, seed) for i, seed in enumerate(s.seeds)]
    jtt, errors, pools = train_jtt(data, jtt_specs, stage1_epochs=s.jtt_epochs, up=s.jtt_up,
                                   **train_kw(s, device),
                                   progress=f"{task}: JTT x {s.n_seeds} seeds" if progress else False)
    jtt_rows = rows(selected(jtt), [{"task": task, "method": "jtt", "seed": seed} for seed in s.seeds])
    frames.append(jtt_rows.assign(jtt_errors=errors.tolist(), jtt_pool=pools.tolist()))
    out = pd.concat(frames, ignore_index=True)
    return out.assign(avg_gap=[_avg_gap(r, counts[r["seed"]]) for _, r in out.iterrows()])


def _test_counts(data: GroupData) -> list[int]:
    g = data.y["test"] * data.n_attributes + data.a["test"]
    return torch.bincount(g, minlength=data.n_groups).tolist()


def _avg_gap(row: pd.Series, counts: list[int]) -> float:
    """|average accuracy - group-size-weighted mean of the group accuracies| (0 up to rounding)."""
    weighted = sum(n * row[f"group_{g}"] for g, n in enumerate(counts) if n) / sum(counts)
    return abs(float(row["test_avg"]) - weighted)


def group_counts(s: Settings, tasks: Sequence[str]) -> dict:
    """{task: {split: examples per group}} of the first reported seed's data."""
    from robustbook.groups.data import numpy_group_counts

    return {t: {k: v.tolist() for k, v in numpy_group_counts(make_task(s, t, s.seed)).items()}
            for t in tasks}


def sensitivity_runs(s: Settings, device: torch.device, progress: bool = True) -> pd.DataFrame:
    """Worst-group accuracy of the multitask model over the (w_mt, w_reg) grid on the tabular
    task, for the first ``s.sensitivity_seeds`` reported seeds (w_mt = 0 is ERM (+ l1))."""
    seeds = s.seeds[: s.sensitivity_seeds]
    data = [make_task(s, "main", seed) for seed in seeds]
    grid = [(mt, reg) for mt in s.w_mt_grid for reg in s.w_reg_grid]
    keys = [{"w_mt": mt, "w_reg": reg, "seed": seed} for seed in seeds for mt, reg in grid]
    specs = [_spec(i, seed, mt, reg) for i, seed in enumerate(seeds) for mt, reg in grid]
    _, history = train_stacked(data, specs, **train_kw(s, device),
                               progress=f"sensitivity: {len(grid)} weights x {len(seeds)} seeds"
                               if progress else False)
    return rows(selected(history), keys)


def design_runs(s: Settings, device: torch.device, designs: Sequence[dict],
                progress: bool = True) -> pd.DataFrame:
    """ERM vs MTL + l1 on the tabular task under other data designs (each a dict of
    ``spurious_strength`` / ``core_signal``), first ``s.sensitivity_seeds`` seeds."""
    seeds = s.seeds[: s.sensitivity_seeds]
    data, specs, keys = [], [], []
    weights = {m: loss_weights(s)[m] for m in ("erm", "mtl_l1")}
    for d, design in enumerate(designs):
        for seed in seeds:
            data.append(make_task(s, "main", seed, **design))
            for m, w in weights.items():
                specs.append(_spec(len(data) - 1, seed, *w))
                keys.append({"design": d, **design, "method": m, "seed": seed})
    _, history = train_stacked(data, specs, **train_kw(s, device),
                               progress=f"designs: {len(designs)} x {len(seeds)} seeds" if progress else False)
    return rows(selected(history), keys)


def explore_runs(s: Settings, spurious_strength: float, w_reg: float, seeds: Sequence[int]) -> pd.DataFrame:
    """The explorer's runs: ERM, ERM + l1, MTL and MTL + l1 at one spurious strength and l1 weight."""
    s = replace(s, spurious_strength=spurious_strength, w_reg=w_reg, n_seeds=len(seeds), seed=seeds[0])
    data = [make_task(s, "main", seed) for seed in s.seeds]
    weights = loss_weights(s)
    keys = [{"method": m, "seed": seed} for seed in s.seeds for m in weights]
    specs = [_spec(i, seed, *weights[m]) for i, seed in enumerate(s.seeds) for m in weights]
    _, history = train_stacked(data, specs, **train_kw(s, torch.device("cpu")))
    return rows(selected(history), keys)
