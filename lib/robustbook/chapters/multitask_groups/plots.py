"""Chapter 08's figures and explorer. Each function draws one figure from a ``Result``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from robustbook.book.plotting import colors_for, subplots
from robustbook.chapters.multitask_groups import experiments
from robustbook.chapters.multitask_groups.result import Result

METHODS = list(experiments.METHODS)
COLORS = colors_for(METHODS)
DESIGN_KEYS = ("standardize", "label_in_latent", "spurious_strength", "core_signal")
PALETTE = {experiments.METHOD_LABELS[m]: COLORS[m] for m in METHODS}


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(Method=frame["method"].map(experiments.METHOD_LABELS),
                        worst_pct=100 * frame["test_worst"], avg_pct=100 * frame["test_avg"])


def worst_group_by_method(result: Result):
    """Worst-group test accuracy per method and task: bars = seed mean ± std, dots = seeds."""
    tasks = list(dict.fromkeys(result.methods["task"]))
    fig, axes = subplots(len(tasks), width=5.2, height=3.8)
    for ax, task in zip(axes[0], tasks):
        data = _labelled(result.methods[result.methods["task"] == task])
        order = [experiments.METHOD_LABELS[m] for m in METHODS]
        sns.barplot(data=data, x="Method", y="worst_pct", order=order, palette=PALETTE, hue="Method",
                    errorbar="sd", ax=ax, alpha=0.75)
        sns.stripplot(data=data, x="Method", y="worst_pct", order=order, color="k", size=3, ax=ax)
        lo = data["worst_pct"].min()
        ax.set(xlabel="", ylabel="worst-group test accuracy (%)", ylim=(max(0, lo - 5), 100),
               title=experiments.TASKS[task])
        ax.tick_params(axis="x", rotation=30)
    return fig


def sensitivity(result: Result):
    """Mean worst-group test accuracy over the (MT weight, ℓ1 weight) grid (w_mt = 0: ERM and
    ERM + ℓ1; w_reg = 0: MTL), and the gain of each cell over ERM (w_mt = w_reg = 0)."""
    mean = result.sensitivity.groupby(["w_mt", "w_reg"])["test_worst"].mean().unstack("w_reg") * 100
    erm = mean.loc[0.0, 0.0]
    fig, axes = subplots(2, width=4.8, height=3.8)
    sns.heatmap(mean, annot=True, fmt=".1f", cmap="viridis", ax=axes[0][0],
                cbar_kws={"label": "worst-group test acc. (%)"})
    sns.heatmap(mean - erm, annot=True, fmt="+.1f", cmap="RdBu", center=0, ax=axes[0][1],
                cbar_kws={"label": "gain over ERM (points)"})
    for ax in axes[0]:
        ax.set(xlabel="ℓ1 weight w_reg", ylabel="MT weight w_mt")
        ax.invert_yaxis()
    axes[0][0].set_title("Worst-group accuracy")
    axes[0][1].set_title("Gain over ERM")
    return fig


def designs(result: Result):
    """Worst-group gain of MTL + ℓ1 over ERM (points; mean ± std over seeds) under each data
    design: how the chapter's finding depends on the task."""
    d = result.designs.pivot_table(index=["design", "seed"], columns="method", values="test_worst")
    gain = (100 * (d["mtl_l1"] - d["erm"])).rename("gain").reset_index()
    names = result.designs.drop_duplicates("design").set_index("design")
    label = {i: ", ".join(f"{k} {r[k]:g}" if isinstance(r[k], float) else f"{k} {r[k]}"
                          for k in DESIGN_KEYS if k in r and pd.notna(r[k]))
             for i, r in names.iterrows()}
    gain = gain.assign(Design=gain["design"].map(label))
    main = result.methods[(result.methods["task"] == "main") & result.methods["seed"].isin(gain["seed"])]
    ref = main.pivot(index="seed", columns="method", values="test_worst")
    ref = pd.DataFrame({"seed": ref.index, "gain": 100 * (ref["mtl_l1"] - ref["erm"]).values,
                        "Design": "the chapter's design"})
    gain = pd.concat([ref, gain], ignore_index=True)
    label[-1] = ref["Design"].iloc[0]
    fig, axes = subplots(1, width=8.5, height=0.8 + 0.45 * len(label))
    ax = axes[0][0]
    sns.pointplot(data=gain, y="Design", x="gain", errorbar="sd", linestyle="none", ax=ax)
    sns.stripplot(data=gain, y="Design", x="gain", color="0.5", size=3, ax=ax)
    ax.axvline(0, color="k", lw=0.8)
    ax.set(xlabel="MTL + ℓ1 minus ERM, worst-group test acc. (points)", ylabel="",
           title="How the gain depends on the data design")
    return fig


def explore(result: Result, spurious_strength: float, w_reg: float, n_seeds: int = 3):
    """Explorer: ERM, ERM + ℓ1, MTL and MTL + ℓ1 on the tabular task at one spurious strength
    and ℓ1 weight (trains its own models on seeds 0..n_seeds-1 in a few seconds)."""
    runs = experiments.explore_runs(result.settings, spurious_strength, w_reg, list(range(n_seeds)))
    data = _labelled(runs)
    fig, axes = subplots(1, width=6)
    order = [experiments.METHOD_LABELS[m] for m in ("erm", "erm_l1", "mtl", "mtl_l1")]
    sns.barplot(data=data, x="Method", y="worst_pct", order=order, hue="Method", palette=PALETTE,
                errorbar="sd", ax=axes[0][0], alpha=0.75)
    sns.stripplot(data=data, x="Method", y="worst_pct", order=order, color="k", size=3, ax=axes[0][0])
    axes[0][0].set(xlabel="", ylabel="worst-group test accuracy (%)",
                   title=f"P(a = y) = {spurious_strength:g}, ℓ1 weight {w_reg:g}, {n_seeds} seeds")
    plt.show()
