"""Chapter 07's figures and explorer. Each function draws one figure from a ``Result``."""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from robustbook.book.plotting import colors_for, subplots
from robustbook.chapters.contrastive_selftraining import experiments
from robustbook.chapters.contrastive_selftraining.result import Result

COLORS = colors_for(["ERM", "ST", "CL", "STOC"])
COLORS.update(SimCLR=COLORS["CL"], FixMatch=COLORS["ST"])   # the image analogues share colours


def theory_accuracy(result: Result):
    """Target accuracy per method with and without shift (dots: seeds), Bayes optimum dashed."""
    data = result.theory[result.theory["method"].isin(["erm", "st", "cl", "stoc"])]
    data = data.assign(Method=data["method"].map(experiments.THEORY_METHODS), acc=100 * data["target_acc"])
    fig, axes = subplots(1, width=7.5, height=3.6)
    ax = axes[0][0]
    sns.barplot(data=data, x="setting", y="acc", hue="Method", palette=COLORS, errorbar="sd", ax=ax, alpha=0.85)
    ax.axhline(100 * result.bayes_target_acc, ls="--", color="k", lw=1, label="Bayes optimum")
    ax.set(xlabel="", ylabel="target accuracy (%)", ylim=(40, 101),
           title="Theory model: only STOC reaches the optimum under shift")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def directions(result: Result):
    """Self-training paths under shift: cosine of the classifier (in input space) with the
    invariant direction w* and with the spurious axis, and target accuracy, per step, from the
    ERM head and from the CL head (mean over seeds, band ±1 std)."""
    data = result.paths[result.paths["setting"] == "shift"]
    long = data.melt(id_vars=["seed", "init", "step"], value_vars=["invariant", "spurious"],
                     var_name="component", value_name="cosine")
    long = long.assign(start=long["init"].map({"ERM": "ST from ERM", "CL": "STOC (ST from CL)"}))
    fig, axes = subplots(2, width=5.2)
    sns.lineplot(data=long, x="step", y="cosine", hue="start", style="component", errorbar="sd", ax=axes[0][0],
                 palette=[COLORS["ERM"], COLORS["STOC"]])
    axes[0][0].set(xlabel="self-training step", ylabel="cosine with direction",
                   title="Which feature the classifier uses")
    axes[0][0].legend(fontsize="x-small")
    acc = data.assign(start=data["init"].map({"ERM": "ST from ERM", "CL": "STOC (ST from CL)"}),
                      pct=100 * data["acc"])
    sns.lineplot(data=acc, x="step", y="pct", hue="start", errorbar="sd", ax=axes[0][1],
                 palette=[COLORS["ERM"], COLORS["STOC"]])
    axes[0][1].axhline(100 * result.bayes_target_acc, ls="--", color="k", lw=1)
    axes[0][1].set(xlabel="self-training step", ylabel="target accuracy (%)", title="Target accuracy")
    axes[0][1].legend(fontsize="x-small")
    return fig


def image_accuracy(result: Result):
    """Image experiment: target accuracy per method (bars: mean ± std; dots: seeds)."""
    data = result.images.assign(Method=result.images["method"].map(experiments.IMAGE_METHODS),
                                acc=100 * result.images["target_acc"])
    fig, axes = subplots(1, width=6, height=3.4)
    ax = axes[0][0]
    sns.barplot(data=data, x="Method", y="acc", hue="Method", palette=COLORS, errorbar="sd", ax=ax, alpha=0.8)
    sns.stripplot(data=data, x="Method", y="acc", color="k", size=4, ax=ax)
    ax.set(xlabel="", ylabel="target test accuracy (%)", title=f"{result.settings.image_dataset}: target accuracy")
    return fig


def fixmatch_curves(result: Result):
    """FixMatch from ERM vs from SimCLR (STOC): share of confident target images and accuracy of
    their pseudo-labels, per epoch."""
    data = result.fixmatch.assign(Method=result.fixmatch["method"].map(experiments.IMAGE_METHODS))
    fig, axes = subplots(2, width=4.6)
    for ax, col, label in zip(axes[0], ("mask_rate", "pseudo_acc"),
                              ("share above τ (%)", "pseudo-label accuracy (%)")):
        sns.lineplot(data=data.assign(pct=100 * data[col]), x="epoch", y="pct", hue="Method",
                     palette=COLORS, errorbar="sd", ax=ax)
        ax.set(xlabel="FixMatch epoch", ylabel=label)
    axes[0][0].set_title("Confident pseudo-labels")
    axes[0][1].set_title("Their accuracy")
    return fig


def explore(result: Result, mu_sp: float, n_labelled: int, seed: int):
    """Explorer on the theory model: ERM, ST, CL and STOC target accuracy at a chosen source
    spurious strength ``mu_sp`` and number of labels (one seed, about a second)."""
    s = dataclasses.replace(result.settings, mu_sp=mu_sp, n_labelled=n_labelled, sgd_steps=0)
    rows, _, _ = experiments.theory_seed(s, seed, shift=True)
    data = pd.DataFrame(rows).assign(Method=lambda f: f["method"].map(experiments.THEORY_METHODS))
    fig, axes = subplots(1, width=5.5, height=3.2)
    ax = axes[0][0]
    sns.barplot(data=data.assign(pct=100 * data["target_acc"]), x="Method", y="pct", hue="Method",
                palette=COLORS, ax=ax)
    ax.axhline(100 * result.bayes_target_acc, ls="--", color="k", lw=1)
    ax.set(xlabel="", ylabel="target accuracy (%)", ylim=(0, 101),
           title=f"spurious mean {mu_sp:g}, {n_labelled} labels, seed {seed}")
    plt.show()
