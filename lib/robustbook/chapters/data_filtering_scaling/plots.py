"""Chapter 02's figures and explorer. Each function draws one figure from a ``Result``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from robustbook.book.plotting import colors_for, subplots
from robustbook.chapters.data_filtering_scaling import frontier
from robustbook.chapters.data_filtering_scaling.result import Result
from robustbook.data.caption_pools import DIGIT_NAMES
from robustbook.scaling_laws import mixture_error

POOL_NAMES = {m: "top-1" if m == 1 else f"top-1..{m}" for m in range(1, 9)}
COLORS = colors_for(list(POOL_NAMES.values()))


def _dense(budgets, points: int = 60) -> np.ndarray:
    return np.geomspace(min(budgets), max(budgets), points)


def paper_frontier():
    """Part 1: ImageNet zero-shot accuracy the published law predicts for each pool vs samples
    seen; the frontier (best pool) in black; left with the official tau * m mixing, right without."""
    fig, axes = subplots(2, width=5.4, sharey=True)
    for ax, scaled in zip(axes[0], (True, False)):
        data = frontier.frontier_curves(scale_tau=scaled)
        sns.lineplot(data=data, x="samples_seen", y="accuracy", hue="pool", ax=ax,
                     palette=dict(zip(frontier.POOLS, COLORS.values())), legend=scaled)
        best = data[data["on_frontier"]]
        ax.plot(best["samples_seen"], best["accuracy"], color="k", lw=3, alpha=0.35, label="frontier")
        ax.axvspan(32e6, 640e6, color="0.9", zorder=0)
        ax.set(xscale="log", xlabel="samples seen", ylabel="ImageNet zero-shot accuracy (%)",
               title="official mixing (τ × m)" if scaled else "τ not multiplied by m")
    axes[0][0].legend(title=None, fontsize="small", loc="lower right")
    fig.suptitle("The paper's frontier from its published constants (grey: 32M–640M)")
    return fig


def _pool_frame(result: Result) -> pd.DataFrame:
    runs = result.runs[result.runs["m"] > 0]
    return runs.assign(pool=runs["m"].map(POOL_NAMES), error_pct=100 * runs["error"])


def trained_pools(result: Result):
    """Part 2: test error vs samples seen for every filtered pool (mean ± std over seeds), and each
    pool's error minus top-1's (below zero: the wider pool is better)."""
    data = _pool_frame(result)
    fig, axes = subplots(2, width=5.4)
    pools = [POOL_NAMES[m] for m in sorted(data["m"].unique())]
    palette = {p: COLORS[p] for p in pools}
    sns.lineplot(data=data, x="budget", y="error_pct", hue="pool", errorbar="sd", marker="o",
                 palette=palette, ax=axes[0][0])
    axes[0][0].axhline(100 * np.mean(list(result.bayes.values())), color="k", ls=":", label="Bayes error")
    axes[0][0].set(xscale="log", xlabel="samples seen", ylabel="clean test error (%)",
                   title="Error of each filtered pool")
    axes[0][0].legend(title=None, fontsize="small")
    top1 = data[data["m"] == 1].set_index(["seed", "budget"])["error_pct"]
    gap = data[data["m"] > 1].assign(gap=lambda d: d["error_pct"].values
                                     - top1.loc[list(zip(d["seed"], d["budget"]))].values)
    sns.lineplot(data=gap, x="budget", y="gap", hue="pool", errorbar="sd", marker="o",
                 palette=palette, ax=axes[0][1], legend=False)
    axes[0][1].axhline(0, color="k", lw=1)
    axes[0][1].set(xscale="log", xlabel="samples seen", ylabel="error minus top-1's (points)",
                   title="Wider pools win once top-1 is repeated")
    return fig


def bucket_fits(result: Result):
    """Part 3: each bucket trained alone (dots: seed mean, bars: std) and the fitted law (lines;
    dashed: the same law without decay)."""
    fit, control = result.fits["mean"], result.fits["no_decay"]
    alone = result.runs[result.runs["bucket"] > 0]
    fig, axes = subplots(1, width=7.5, height=4.2)
    ax = axes[0][0]
    palette = sns.color_palette("rocket", len(fit.b))
    for i, (bucket, g) in enumerate(alone.groupby("bucket")):
        stats = g.groupby("budget")["error"].agg(["mean", "std"]) * 100
        ax.errorbar(stats.index, stats["mean"], stats["std"], fmt="o", color=palette[i], capsize=2,
                    label=f"bucket {bucket} ({result.settings.label_noise[i]:.0%} noise)")
        dense, pool = _dense(stats.index), float(g["pool_size"].iloc[0])
        ax.plot(dense, [100 * fit.predict(i, n, pool) for n in dense], color=palette[i])
        ax.plot(dense, [100 * control.predict(i, n, pool) for n in dense], color=palette[i], ls="--", lw=1)
    ax.set(xscale="log", xlabel="samples seen", ylabel="clean test error (%)",
           title=f"Single buckets and the fitted law (RMSE {100 * fit.rmse:.2f} points; "
                 f"dashed: no decay, {100 * control.rmse:.2f})")
    ax.legend(fontsize="small", title=None)
    return fig


def predicted_vs_measured(result: Result):
    """Part 3: the unions predicted from the single-bucket fits (lines) against the trained unions
    (dots, seed mean), and all (pool, budget) points predicted vs measured (marker: which points
    the claim judges)."""
    s, fit = result.settings, result.fits["mean"]
    table = result.prediction[result.prediction["fit"] == "mean"]
    fig, axes = subplots(2, width=5.4)
    dense = _dense(s.budgets)
    for m, g in table.groupby("m"):
        color = COLORS[POOL_NAMES[m]]
        axes[0][0].plot(g["budget"], 100 * g["measured"], "o", color=color, label=POOL_NAMES[m])
        axes[0][0].plot(dense, [100 * mixture_error(n, s.bucket_size, fit.a, fit.b[:m], fit.tau[:m], fit.d,
                                                    s.scale_tau) for n in dense], color=color)
    axes[0][0].set(xscale="log", xlabel="samples seen", ylabel="clean test error (%)",
                   title="Predicted (lines) vs trained (dots)")
    axes[0][0].legend(fontsize="small", title=None)
    kind = np.select([table["m"] == 1, table["judged"]], ["fitted (top-1)", "judged: union past one pass"],
                     "union, first pass")
    shown = table.assign(pool=table["m"].map(POOL_NAMES), kind=kind)
    sns.scatterplot(data=shown.assign(measured=100 * shown["measured"], predicted=100 * shown["predicted"]),
                    x="measured", y="predicted", hue="pool", style="kind", ax=axes[0][1],
                    palette={POOL_NAMES[m]: COLORS[POOL_NAMES[m]] for m in table["m"].unique()})
    lo, hi = 100 * table[["measured", "predicted"]].min().min(), 100 * table[["measured", "predicted"]].max().max()
    axes[0][1].plot([lo, hi], [lo, hi], color="k", lw=1)
    axes[0][1].set(xlabel="measured error (%)", ylabel="predicted error (%)", title="Every pool and budget")
    sns.move_legend(axes[0][1], "upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", title=None)
    return fig


def clip_pools(result: Result):
    """Part 4: zero-shot accuracy of tiny CLIPs vs samples seen for each pool (line: seed mean,
    dots: seeds)."""
    data = result.clip.assign(pool=result.clip["m"].map(POOL_NAMES), acc=100 * result.clip["accuracy"])
    fig, axes = subplots(1, width=6.5, height=4.0)
    palette = {POOL_NAMES[m]: COLORS[POOL_NAMES[m]] for m in data["m"].unique()}
    sns.lineplot(data=data, x="budget", y="acc", hue="pool", errorbar=None, marker="o", palette=palette,
                 ax=axes[0][0])
    sns.stripplot(data=data, x="budget", y="acc", hue="pool", palette=palette, ax=axes[0][0], legend=False,
                  native_scale=True, jitter=False, size=3, alpha=0.6)
    if result.settings.clip_data == "digits":
        axes[0][0].axhline(100 / len(DIGIT_NAMES), color="k", ls=":", label="chance")
    budgets = list(result.settings.clip_budgets)
    axes[0][0].set(xscale="log", xlabel="samples seen", ylabel="zero-shot test accuracy (%)",
                   title=f"{result.settings.clip_model}: quality vs quantity")
    axes[0][0].set_xticks(budgets, [f"{n:,}" for n in budgets])
    axes[0][0].minorticks_off()
    axes[0][0].legend(fontsize="small", title=None)
    return fig


def _law_for(result: Result, buckets: list[int], source: str) -> tuple[float, dict]:
    """(bucket size, mixing-rule arguments) of the chosen buckets from this run's fit or the paper."""
    if source == "paper constants":
        p = frontier.PUBLISHED
        return p["bucket_size"], {"a": p["a"], "b": [p["b"][i] for i in buckets],
                                  "tau": [p["tau"][i] for i in buckets], "d": p["d"]}
    f = result.fits["mean"]
    return result.settings.bucket_size, {"a": f.a, "b": [f.b[i] for i in buckets],
                                         "tau": [f.tau[i] for i in buckets], "d": f.d}


def explore(result: Result, buckets=(0, 1), budget: float = 8.0, source: str = "this run's fit") -> None:
    """The explorer: the law's error vs samples seen for the union of the chosen ``buckets``
    (0-based ids; this run's seed-mean fit or the paper's constants), the chosen ``budget`` (in
    bucket sizes: 2.5 = 32M samples for the paper, 2,500 for the toy) marked, and the trained
    seed-mean errors when the buckets form a trained pool top-1..m."""
    buckets = sorted(buckets) or [0]
    size, law = _law_for(result, buckets, source)
    scale_tau = result.settings.scale_tau
    grid = size * np.geomspace(0.25, 64, 80)
    fig, axes = subplots(1, width=6.5, height=3.8)
    ax = axes[0][0]
    ax.plot(grid, [100 * mixture_error(n, size, **law, scale_tau=scale_tau) for n in grid], label="predicted")
    y = 100 * mixture_error(budget * size, size, **law, scale_tau=scale_tau)
    ax.plot([budget * size], [y], "o", color="k")
    if source != "paper constants" and buckets == list(range(len(buckets))):
        table = result.prediction
        trained = table[(table["fit"] == "mean") & (table["m"] == len(buckets))]
        ax.plot(trained["budget"], 100 * trained["measured"], "s", color="C3", label="trained (seed mean)")
    ax.legend(fontsize="small")
    ax.set(xscale="log", xlabel="samples seen", ylabel="error (%)",
           title=f"buckets {[i + 1 for i in buckets]}, {source}: {y:.1f}% at {budget * size:,.0f}")
    plt.show()
