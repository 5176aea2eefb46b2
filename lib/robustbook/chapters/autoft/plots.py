"""Chapter 06's figures and explorer. Each function draws one figure from a ``Result``."""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from robustbook.book.plotting import colors_for, subplots
from robustbook.chapters.autoft import experiments
from robustbook.chapters.autoft.claims import METHODS, _method_rows
from robustbook.chapters.autoft.result import Result
from robustbook.chapters.autoft.tables import LABELS

COLORS = colors_for(["autoft", "ft", "wise_ft", "lr_wd_ood_val", "search_id_val", "lp", "wise_ft_05"])
SEARCH_COLORS = {LABELS[k]: COLORS[k] for k in experiments.SEARCHES}


def ood_bars(result: Result):
    """Held-out OOD test score per method: bars = mean over seeds, dots = seeds."""
    rows = _method_rows(result)
    data = pd.concat([rows[m].reset_index()[["seed", "ood_test", "id_test"]].assign(method=LABELS[m])
                      for m in METHODS])
    fig, axes = subplots(2, width=5.2, height=3.6)
    for ax, col, label in zip(axes[0], ("ood_test", "id_test"), ("held-out OOD test", "ID test")):
        d = data.assign(pct=100 * data[col])
        sns.barplot(data=d, y="method", x="pct", hue="method", palette=[COLORS[m] for m in METHODS],
                    errorbar=None, ax=ax, alpha=0.8, legend=False)
        sns.stripplot(data=d, y="method", x="pct", color="k", size=4, ax=ax)
        ax.set(xlabel=f"{label} accuracy (%)", ylabel="", xlim=(max(0, d["pct"].min() - 10), 100))
    axes[0][1].set_yticklabels([])
    fig.suptitle("Fine-tuning methods on unseen shifts (dots: seeds)")
    return fig


def val_vs_test(result: Result):
    """OOD-validation vs held-out OOD test accuracy of every trial of every search (all seeds);
    large markers: each search's pick per seed."""
    t = result.trials.assign(search=result.trials["search"].map(LABELS))
    fig, axes = subplots(2, width=5.0, height=4.0)
    for ax, x in zip(axes[0], ("ood_val", "id_val")):
        sns.scatterplot(data=t.assign(xp=100 * t[x], yp=100 * t["ood_test"]), x="xp", y="yp", hue="search",
                        palette=SEARCH_COLORS, alpha=0.5, s=20, ax=ax, legend=ax is axes[0][1])
        picks = result.scores[result.scores["method"].isin(list(experiments.SEARCHES))]
        for _, r in picks.iterrows():
            ax.scatter(100 * r[x], 100 * r["ood_test"], s=120, marker="*", color=COLORS[r["method"]],
                       edgecolor="k", zorder=3)
        ax.set(xlabel=f"{'OOD' if x == 'ood_val' else 'ID'} validation accuracy (%)",
               ylabel="held-out OOD test accuracy (%)")
    axes[0][0].set_title("OOD validation vs. unseen shifts")
    axes[0][1].set_title("ID validation vs. unseen shifts")
    sns.move_legend(axes[0][1], "upper left", bbox_to_anchor=(1.02, 1), fontsize="x-small", title=None)
    return fig


def wise_curve(result: Result):
    """WiSE-FT: ID test vs OOD test accuracy along alpha (mean over seeds), with the searched models."""
    wise = result.scores[result.scores["method"] == "wise_ft"].groupby("alpha")[["id_test", "ood_test"]].mean()
    fig, axes = subplots(1, width=6, height=4.2)
    ax = axes[0][0]
    ax.plot(100 * wise["id_test"], 100 * wise["ood_test"], "-o", color=COLORS["wise_ft"], label="WiSE-FT, alpha 0 → 1")
    for a, r in wise.iloc[[0, len(wise) // 2, -1]].iterrows():
        ax.annotate(f"α={a:g}", (100 * r["id_test"], 100 * r["ood_test"]), fontsize="x-small",
                    textcoords="offset points", xytext=(4, -10))
    rows = _method_rows(result)
    for m in ("search_id_val", "lr_wd_ood_val", "autoft"):
        ax.scatter(100 * rows[m]["id_test"].mean(), 100 * rows[m]["ood_test"].mean(), s=90, marker="*",
                   color=COLORS[m], edgecolor="k", label=LABELS[m], zorder=3)
    ax.set(xlabel="ID test accuracy (%)", ylabel="held-out OOD test accuracy (%)",
           title="Robustness–accuracy trade-off (mean over seeds)")
    ax.legend(fontsize="x-small")
    return fig


def best_so_far(trials: pd.DataFrame) -> pd.DataFrame:
    """Per seed, search and budget k: the OOD test score of the trial each search would pick
    after its first k trials (the best by its own validation value; earliest among ties)."""
    rows = []
    for (seed, search), g in trials.sort_values("trial").groupby(["seed", "search"]):
        best = g["value"].to_numpy().copy()
        picks = [int(np.argmax(best[:k + 1])) for k in range(len(best))]
        rows += [{"seed": seed, "search": search, "budget": k + 1, "ood_test": g["ood_test"].iloc[p]}
                 for k, p in enumerate(picks)]
    return pd.DataFrame(rows)


def explore(result: Result, trial_budget: int, n_ood_val: int, seed: int):
    """Explorer: OOD test accuracy of each search's pick vs. its trial budget, at the run's OOD
    validation size (stored trials; seed mean) or, for another size, from new searches on ``seed``."""
    s = result.settings
    trials = result.trials
    if n_ood_val != s.n_ood_val:
        s = dataclasses.replace(s, n_ood_val=n_ood_val, n_trials=trial_budget)
        task, make = experiments.digits_task(s, seed)
        trials = pd.concat([experiments.search(task, make, s, seed, name)[0] for name in experiments.SEARCHES])
    curve = best_so_far(trials)
    k = min(trial_budget, int(curve["budget"].max()))
    at = curve[curve["budget"] == k].groupby("search")["ood_test"].mean()
    curve = curve.assign(search=curve["search"].map(LABELS), pct=100 * curve["ood_test"])
    fig, axes = subplots(1, width=6.4, height=4)
    ax = axes[0][0]
    sns.lineplot(data=curve, x="budget", y="pct", hue="search", palette=SEARCH_COLORS, errorbar=None, ax=ax)
    ax.axvline(trial_budget, color="grey", ls="--", lw=1)
    short = {"autoft": "AutoFT", "search_id_val": "ID-val search", "lr_wd_ood_val": "(lr, wd)"}
    ax.set(xlabel="trial budget (trials searched)", ylabel="OOD test accuracy of the pick (%)",
           title=f"{n_ood_val} OOD val images, {k} trials: "
           + ", ".join(f"{short[n]} {100 * v:.1f}%" for n, v in at.items()))
    ax.title.set_fontsize("small")
    ax.legend(fontsize="x-small", title=None)
    plt.show()
