"""Chapter 03's figures and explorer. Each function draws one figure from a ``Result``; axes in
probit scale are labelled in % (the tick at Phi^-1(p) reads p). ``explore`` is the explorer's
figure (``robustbook.book.widgets.explorer(plots.explore, result, ...)``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from robustbook.book.plotting import colors_for, not_drawn, subplots
from robustbook.chapters.agreement_foundation.experiments import ENSEMBLE_LABELS, ENSEMBLES
from robustbook.chapters.agreement_foundation.result import Result
from robustbook.chapters.agreement_foundation.tables import per_seed
from robustbook.shift import METHOD_LABELS, METHODS, probit
from robustbook.shift.plotting import probit_axes, rows

COLORS = colors_for([*ENSEMBLES, "accuracy", "agreement"])
METHOD_COLORS = colors_for(list(METHODS))
TICKS = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98])


def default_shift(result: Result) -> str:
    """The first corruption at the middle severity (the shift the static figures show)."""
    s = result.settings
    severity = sorted(s.severities)[len(s.severities) // 2]
    names = result.lines["shift"].unique().tolist()
    wanted = f"{s.corruptions[0]}-{severity}"
    return wanted if wanted in names else names[0]


def lines_panel(ax, result: Result, ensemble: str, shift: str, seed: int) -> None:
    """Probit ID vs OOD: models' accuracy (dots), pairs' agreement (small dots), both fitted
    lines, and y = x."""
    sel = dict(ensemble=ensemble, shift=shift, seed=seed)
    models, pairs = rows(result.models, **sel), rows(result.pairs, **sel)
    line = rows(result.lines, **sel).iloc[0]
    ax.scatter(probit(pairs["agr_id"]), probit(pairs["agr_ood"]), s=6, alpha=0.35,
               color=COLORS["agreement"], label="agreement (pairs)")
    ax.scatter(probit(models["acc_id"]), probit(models["acc_ood"]), s=22, edgecolor="k", lw=0.4,
               color=COLORS["accuracy"], label="accuracy (models)", zorder=3)
    x = np.linspace(probit(0.03), probit(0.99), 10)
    ax.plot(x, line.acc_slope * x + line.acc_bias, color=COLORS["accuracy"], lw=2,
            label=f"acc. line: {line.acc_slope:.2f}x{line.acc_bias:+.2f}, R² {line.acc_r2:.2f}")
    if not np.isnan(line.agr_slope):
        ax.plot(x, line.agr_slope * x + line.agr_bias, color=COLORS["agreement"], lw=2, ls="--",
                label=f"agr. line: {line.agr_slope:.2f}x{line.agr_bias:+.2f}, R² {line.agr_r2:.2f}")
    ax.plot(x, x, color="0.5", lw=0.8, ls=":", label="y = x")
    lo = max(0.03, min(models[["acc_id", "acc_ood"]].min().min(), pairs[["agr_id", "agr_ood"]].min().min()) - 0.03)
    probit_axes(ax, lo, 0.99, TICKS)
    ax.set(xlabel="ID accuracy / agreement (%, probit scale)",
           ylabel="OOD accuracy / agreement (%, probit scale)", title=ENSEMBLE_LABELS[ensemble])
    ax.legend(fontsize="x-small", loc="upper left")


def _three_panels(result: Result, shift: str, seed: int | None, title: str):
    seed = result.settings.seeds[0] if seed is None else seed
    fig, axes = subplots(3, width=4.6, height=4.4)
    for ax, ensemble in zip(axes[0], ENSEMBLES):
        lines_panel(ax, result, ensemble, shift, seed)
    fig.suptitle(f"{title}shift {shift}, seed {seed}: does agreement follow the accuracy line?")
    return fig


def agreement_lines(result: Result, shift: str | None = None, seed: int | None = None):
    """One panel per ensemble: accuracy and agreement on the probit scale with both lines."""
    return _three_panels(result, shift or default_shift(result), seed, "")


TEXT_SHIFT = "vocabulary"  # the language version's figure: the strongest vocabulary shift


def text_lines(result: Result, shift: str | None = None, seed: int | None = None):
    """The language version: linear heads on frozen all-MiniLM-L6-v2 embeddings of topic posts, one
    panel per ensemble, on the posts with every topic word replaced by a held-out word (first seed):
    accuracy and agreement on the probit scale with both lines."""
    if not result.has_text:
        return not_drawn("the language version did not run in this preset (text_models = 0)")
    view = result.text_view()
    if shift is None:
        names = [n for n in view.lines["shift"].unique() if n.startswith(TEXT_SHIFT)]
        shift = max(names, key=lambda n: view.lines.loc[view.lines["shift"] == n, "severity"].iloc[0])
    return _three_panels(view, shift, seed, "MiniLM on text, ")


def text_method_errors(result: Result):
    """The language version: error of every estimator per ensemble, averaged over the text shifts
    (bars: mean ± std over seeds; dots: seeds)."""
    if not result.has_text:
        return not_drawn("the language version did not run in this preset (text_models = 0)")
    fig = method_errors(result.text_view())
    fig.axes[0].set_title("MiniLM on text: OOD-accuracy estimation error, averaged over text shifts")
    return fig


def _seed_means(result: Result, measure: str) -> pd.DataFrame:
    g = per_seed(result.errors, measure, ["ensemble", "method", "seed"]).reset_index()
    return g.assign(Ensemble=g["ensemble"].map(ENSEMBLE_LABELS), Method=g["method"].map(METHOD_LABELS))


def method_errors(result: Result, measure: str = "mae"):
    """Error of every estimator per ensemble (bars: mean ± std over seeds; dots: seeds)."""
    data = _seed_means(result, measure)
    palette = {ENSEMBLE_LABELS[e]: COLORS[e] for e in ENSEMBLES}
    fig, axes = subplots(1, width=9.5, height=3.8)
    ax = axes[0][0]
    order = dict(order=[METHOD_LABELS[m] for m in METHODS], hue_order=list(palette))
    sns.barplot(data=data, x="Method", y=measure, hue="Ensemble", palette=palette, errorbar="sd",
                ax=ax, alpha=0.85, **order)
    sns.stripplot(data=data, x="Method", y=measure, hue="Ensemble", dodge=True, ax=ax, size=3,
                  legend=False, palette={k: "k" for k in palette}, **order)
    unit = "accuracy points" if measure == "mae" else "% of OOD accuracy"
    ax.set(xlabel="", ylabel=f"{measure.upper()} ({unit})",
           title="OOD-accuracy estimation error, averaged over shifts")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), title=None, fontsize="small")
    return fig


def errors_by_severity(result: Result, methods=("aline_d", "naive", "atc")):
    """MAE vs corruption severity, per ensemble (mean over corruptions; band ±1 std over seeds)."""
    e = result.errors[result.errors["method"].isin(methods) & (result.errors["severity"] > 0)]
    e = per_seed(e, "mae", ["ensemble", "method", "seed", "severity"]).reset_index()
    e = e.assign(Ensemble=e["ensemble"].map(ENSEMBLE_LABELS), Method=e["method"].map(METHOD_LABELS))
    fig, axes = subplots(len(methods), width=4.2, height=3.4, sharey=True)
    for ax, m in zip(axes[0], methods):
        sns.lineplot(data=e[e["method"] == m], x="severity", y="mae", hue="Ensemble", marker="o",
                     palette={ENSEMBLE_LABELS[k]: COLORS[k] for k in ENSEMBLES}, errorbar="sd",
                     hue_order=[ENSEMBLE_LABELS[k] for k in ENSEMBLES], ax=ax, legend=m == methods[-1])
        ax.set(xlabel="corruption severity", ylabel="MAE (accuracy points)", title=METHOD_LABELS[m])
        ax.set_xticks(sorted(e["severity"].unique()))
    sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.0, 1.0), title=None, fontsize="small")
    return fig


def predicted_vs_true(result: Result, ensemble: str = "random_head", seed: int | None = None):
    """Each method's estimate against the true OOD accuracy, every model and shift of one seed."""
    seed = result.settings.seeds[0] if seed is None else seed
    m = result.models[(result.models["ensemble"] == ensemble) & (result.models["seed"] == seed)]
    fig, axes = subplots(3, nrows=2, width=3.4, height=3.2, sharex=True, sharey=True)
    for ax, method in zip(axes.flat, METHODS):
        ax.scatter(100 * m["acc_ood"], 100 * m[f"est_{method}"], s=5, alpha=0.5,
                   color=METHOD_COLORS[method])
        ax.plot([0, 100], [0, 100], color="0.4", lw=0.8, ls=":")
        ax.set(title=METHOD_LABELS[method], xlabel="true OOD accuracy (%)", ylabel="estimate (%)",
               xlim=(0, 100), ylim=(0, 100))
    fig.suptitle(f"Estimates vs. truth: {ENSEMBLE_LABELS[ensemble]} ensemble, all shifts, seed {seed}")
    return fig


def explore(result: Result, ensemble: str, corruption: str, severity: int, seed: int) -> None:
    """The explorer's figure: the chosen ensemble's lines on one shift and seed (left) and every
    method's error there (right); everything was computed by ``run``, so it draws at once."""
    shift = f"{corruption}-{severity}"
    fig, axes = subplots(2, width=4.8, height=4.2)
    lines_panel(axes[0][0], result, ensemble, shift, seed)
    err = rows(result.errors, ensemble=ensemble, shift=shift, seed=seed)
    sns.barplot(data=err.assign(Method=err["method"].map(METHOD_LABELS)), x="mae", y="Method",
                hue="Method", palette={METHOD_LABELS[k]: METHOD_COLORS[k] for k in METHODS},
                order=[METHOD_LABELS[k] for k in METHODS], ax=axes[0][1], legend=False)
    refused = " (ALine refused)" if err["refused"].any() else ""
    axes[0][1].set(xlabel="MAE on this shift (accuracy points)", ylabel="",
                   title=f"{shift}, seed {seed}{refused}")
    plt.show()


def cross_backbone(result: Result, seed: int | None = None):
    """Fine-tunes of four different backbones pooled into one ensemble, on every shift of one seed:
    each model's ID vs OOD accuracy (probit scale, colour = backbone) with the pooled ensemble's
    accuracy line (solid) and agreement line (dashed) per shift. Right: the agreement-to-accuracy-line
    gap and the gap to y = x, per seed (mean over shifts)."""
    if result.cross is None or result.cross.empty:
        return not_drawn("the mixed-backbone ensemble runs with the digits backbones only (cross_models > 0)")
    seed = result.settings.seeds[0] if seed is None else seed
    models, lines = rows(result.cross_models, seed=seed), rows(result.cross, seed=seed)
    fig, axes = subplots(2, width=5.0, height=4.4)
    ax = axes[0][0]
    backbones = list(dict.fromkeys(models["backbone"]))
    palette = colors_for(backbones)
    for b in backbones:
        part = models[models["backbone"] == b]
        ax.scatter(probit(part["acc_id"]), probit(part["acc_ood"]), s=10, alpha=0.6, color=palette[b], label=b)
    x = np.linspace(probit(0.05), probit(0.99), 10)
    for i, line in enumerate(lines.itertuples()):
        ax.plot(x, line.acc_slope * x + line.acc_bias, color="k", lw=0.8, alpha=0.6,
                label="accuracy lines" if i == 0 else None)
        if not np.isnan(line.agr_slope):
            ax.plot(x, line.agr_slope * x + line.agr_bias, color=COLORS["agreement"], lw=0.8, ls="--",
                    label="agreement lines" if i == 0 else None)
    ax.plot(x, x, color="0.5", lw=0.8, ls=":", label="y = x")
    probit_axes(ax, max(0.05, float(models[["acc_id", "acc_ood"]].min().min()) - 0.03), 0.99, TICKS)
    ax.set(xlabel="ID accuracy (%, probit scale)", ylabel="OOD accuracy (%, probit scale)",
           title=f"Four backbones, every shift, seed {seed}")
    ax.legend(fontsize="x-small", loc="upper left")
    gaps = result.cross.groupby("seed")[["line_gap", "identity_gap"]].mean().reset_index().melt(
        "seed", var_name="gap", value_name="probit units")
    gaps["gap"] = gaps["gap"].map({"line_gap": "to the accuracy line", "identity_gap": "to y = x"})
    sns.barplot(data=gaps, x="gap", y="probit units", errorbar="sd", color="0.7", ax=axes[0][1])
    sns.stripplot(data=gaps, x="gap", y="probit units", color="k", size=4, ax=axes[0][1])
    axes[0][1].set(xlabel="gap of the agreement line", title="Mean gap over shifts, per seed")
    return fig
