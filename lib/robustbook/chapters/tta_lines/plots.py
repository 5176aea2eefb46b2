"""Chapter 09's figures and explorer. Probit axes are labelled in % (the tick at Phi^-1(p) reads
p). ``explore`` is the explorer's figure (``robustbook.book.widgets.explorer``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from robustbook.book.plotting import colors_for, subplots
from robustbook.chapters.tta_lines.result import Result
from robustbook.shift import probit
from robustbook.shift.plotting import probit_axes, rows
from robustbook.tta import METHOD_LABELS

ALL_METHODS = ("plain", "bn_adapt", "tent", "eta")
COLORS = colors_for([*ALL_METHODS, "accuracy", "agreement"])
TICKS = np.array([0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98])


def methods(result: Result) -> list[str]:
    return ["plain", *result.settings.methods]


def lines_panel(ax, result: Result, shift: str, method: str, seed: int, kind: str) -> None:
    """Probit ID vs OOD of every model's accuracy (kind "acc") or every pair's agreement ("agr"),
    the fitted line, its R², and y = x."""
    sel = dict(shift=shift, method=method, seed=seed)
    line = rows(result.lines, **sel).iloc[0]
    if kind == "acc":
        data = rows(result.models, **sel)
        x, y, label = data["acc_id"], data["acc_ood"], "accuracy"
    else:
        data = rows(result.pairs, **sel)
        x, y, label = data["agr_id"], data["agr_ood"], "agreement"
    ax.scatter(probit(x), probit(y), s=14 if kind == "acc" else 5, alpha=0.8 if kind == "acc" else 0.3,
               color=COLORS[label], edgecolor="k" if kind == "acc" else None, lw=0.3)
    slope, bias, r2 = line[f"{kind}_slope"], line[f"{kind}_bias"], line[f"{kind}_r2"]
    grid = np.linspace(probit(0.02), probit(0.995), 10)
    if not np.isnan(slope):
        ax.plot(grid, slope * grid + bias, color=COLORS[label], lw=2, label=f"fit, R² {r2:.2f}")
    ax.plot(grid, grid, ls=":", color="grey", lw=1, label="y = x")
    probit_axes(ax, 0.02, 0.995, TICKS)
    ax.set_title(f"{METHOD_LABELS[method]}: {label}")
    ax.set_xlabel(f"ID {label} (%, probit scale)")
    ax.set_ylabel(f"OOD {label} (%, probit scale)")
    ax.legend(loc="lower right", fontsize=8)


def line_scatters(result: Result, shift: str | None = None, seed: int | None = None):
    """Accuracy (top) and agreement (bottom) lines before and after every TTA method on one shift."""
    shift = shift or result.settings.focus_shift
    seed = result.settings.seeds[0] if seed is None else seed
    cols = methods(result)
    fig, axes = subplots(len(cols), 2, width=3.6, height=3.4)
    for j, m in enumerate(cols):
        for i, kind in enumerate(("acc", "agr")):
            lines_panel(axes[i, j], result, shift, m, seed, kind)
    fig.suptitle(f"{shift}, seed {seed}: probit ID vs. OOD, one dot per model (top) or pair (bottom)")
    return fig


def r2_bars(result: Result):
    """R² of the accuracy and agreement lines per shift and method (mean ± std over seeds)."""
    long = result.lines.melt(id_vars=["seed", "shift", "method"], value_vars=["acc_r2", "agr_r2"],
                             var_name="line", value_name="R²")
    long["method"] = long["method"].map(METHOD_LABELS)
    fig, axes = subplots(2, 1, width=6.4, height=3.6)
    for ax, (line, title) in zip(axes[0], (("acc_r2", "accuracy line"), ("agr_r2", "agreement line"))):
        sns.barplot(data=long[long.line == line], x="shift", y="R²", hue="method", errorbar="sd", ax=ax,
                    palette=[COLORS[m] for m in methods(result)])
        ax.set_title(f"R² of the {title} (probit)")
        ax.set_xlabel("shift (corruption-severity)")
        ax.set_ylim(0, 1.05)
        ax.tick_params(axis="x", rotation=30)
    return fig


def feature_stats(result: Result):
    """The single-scaling measures per model on the focus shift, before and after TTA (log scale),
    and the theory slope alpha / gamma against the fitted accuracy-line slope."""
    f = result.features.copy()
    f["method"] = f["method"].map(METHOD_LABELS)
    fig, axes = subplots(4, 1, width=3.6, height=3.4)
    order = [METHOD_LABELS[m] for m in methods(result)]
    for ax, (col, title) in zip(axes[0], (("mean_residual", "class means: unexplained by one scale"),
                                          ("cov_residual", "covariance: unexplained by one scale"),
                                          ("offset", "offset of the dataset mean"))):
        sns.boxplot(data=f, x="method", y=col, order=order, ax=ax, palette=[COLORS[m] for m in methods(result)],
                    hue="method", legend=False, fliersize=2)
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("")
        ax.set_ylabel("share of variance" if col != "offset" else "in ID within-class std")
        ax.tick_params(axis="x", rotation=30)
    ax = axes[0, 3]
    emp = rows(result.lines, shift=result.settings.focus_shift).set_index(["seed", "method"])["acc_slope"]
    theory = result.features.groupby(["seed", "method"])["slope"].median()
    both = pd.DataFrame({"theory": theory, "empirical": emp.reindex(theory.index)}).reset_index()
    for m in methods(result):
        d = both[both.method == m]
        ax.scatter(d["empirical"], d["theory"], color=COLORS[m], label=METHOD_LABELS[m], s=25)
    lo, hi = both[["theory", "empirical"]].min().min() - 0.1, both[["theory", "empirical"]].max().max() + 0.1
    ax.plot([lo, hi], [lo, hi], ls=":", color="grey")
    ax.set_xlabel("slope of the accuracy line")
    ax.set_ylabel("theory slope α/γ (median model)")
    ax.set_title("slopes, one dot per seed", fontsize=10)
    ax.legend(fontsize=8)
    fig.suptitle(f"Penultimate features, {result.settings.focus_shift} vs. ID")
    return fig


def estimation_errors(result: Result):
    """MAE of ALine-S, ALine-D and ATC per shift before and after TTA (mean ± std over seeds; seeds
    on which ALine refused are left out of a bar, the tables below count them)."""
    e = result.errors[result.errors.estimator.isin(["aline_s", "aline_d", "atc"])].copy()
    e["method"] = e["method"].map(METHOD_LABELS)
    fig, axes = subplots(3, 1, width=4.2, height=3.6)
    for ax, est in zip(axes[0], ("aline_s", "aline_d", "atc")):
        sns.barplot(data=e[e.estimator == est], x="shift", y="mae", hue="method", errorbar="sd", ax=ax,
                    palette=[COLORS[m] for m in methods(result)], legend=est == "aline_s")
        ax.set_title({"aline_s": "ALine-S", "aline_d": "ALine-D", "atc": "ATC (baseline)"}[est])
        ax.set_ylabel("MAE of OOD accuracy (points)")
        ax.set_xlabel("shift")
        ax.tick_params(axis="x", rotation=40)
    return fig


def selection(result: Result, seed: int | None = None):
    """TENT learning rate vs. the zoo's mean OOD accuracy: true (needs labels) and estimated
    (ALine-S, ALine-D, average confidence), per selection shift; stars mark each one's choice."""
    seed = result.settings.seeds[0] if seed is None else seed
    sel = rows(result.selection, seed=seed)
    shifts = list(dict.fromkeys(sel["shift"]))
    fig, axes = subplots(len(shifts), 1, width=3.8, height=3.4)
    curves = {"true": ("true (OOD labels)", "k"), "est_aline_s": ("ALine-S", COLORS["tent"]),
              "est_aline_d": ("ALine-D", COLORS["eta"]), "est_ac": ("average confidence", COLORS["bn_adapt"])}
    for ax, name in zip(axes[0], shifts):
        d = sel[sel["shift"] == name]
        for col, (label, color) in curves.items():
            if d[col].isna().all():
                continue
            ax.plot(d["lr"], 100 * d[col], marker="o", color=color, label=label)
            best = d.loc[d[col].idxmax()]
            ax.scatter([best["lr"]], [100 * best[col]], marker="*", s=160, color=color, zorder=4)
        ax.set_xscale("log")
        ax.set_xlabel("TENT learning rate")
        ax.set_ylabel("mean OOD accuracy of the zoo (%)")
        ax.set_title(name)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Choosing TENT's learning rate without OOD labels (seed {seed})")
    return fig


def explore(result: Result, corruption: str, severity: int, method: str, seed: int):
    """Accuracy and agreement lines before (left) and after ``method`` (right) on one shift."""
    shift = f"{corruption}-{severity}"
    fig, axes = subplots(2, 2, width=3.6, height=3.4)
    for j, m in enumerate(("plain", method)):
        for i, kind in enumerate(("acc", "agr")):
            lines_panel(axes[i, j], result, shift, m, seed, kind)
    fig.suptitle(f"{shift}, seed {seed}: before and after {METHOD_LABELS[method]}")
    plt.show()
    return fig
