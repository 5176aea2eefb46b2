"""Chapter 01's figures and explorer. Each function draws one figure from a ``Result``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from robustbook.book.plotting import colors_for, subplots
from robustbook.chapters.sam_label_noise import experiments
from robustbook.chapters.sam_label_noise.config import Config
from robustbook.chapters.sam_label_noise.result import Result

METHODS = list(experiments.METHOD_LABELS)
COLORS = colors_for(METHODS)


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(Method=frame["method"].map(experiments.METHOD_LABELS))


def _palette(methods) -> dict:
    return {experiments.METHOD_LABELS[m]: COLORS[m] for m in methods}


def deep_curves(result: Result, methods=("sgd", "sam", "lsam", "jsam", "sgd_penalties")):
    """Test accuracy and memorised fraction of noisy labels vs. epoch (mean, band = ±1 std)."""
    data = _labelled(result.curves[result.curves["method"].isin(methods)])
    data = data.assign(test_pct=100 * data["test_acc"], mem_pct=100 * data["memorized"])
    fig, axes = subplots(2, width=5.6)
    for ax, col, ylabel in zip(axes[0], ("test_pct", "mem_pct"),
                               ("clean test accuracy (%)", "noisy train labels fitted (%)")):
        sns.lineplot(data=data, x="epoch", y=col, hue="Method", palette=_palette(methods),
                     errorbar="sd", ax=ax, legend=ax is axes[0][1])
        ax.set(xlabel="epoch", ylabel=ylabel)
    axes[0][0].set_title("Test accuracy under label noise")
    axes[0][1].set_title("Memorisation of wrong labels")
    sns.move_legend(axes[0][1], "upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", title=None)
    return fig


def best_vs_final(result: Result):
    """Early-stopped (best) and final test accuracy per method; dots are seeds."""
    data = _labelled(result.summary).melt(id_vars=["Method", "seed"], value_vars=["best_acc", "final_acc"],
                                          var_name="when", value_name="acc")
    data = data.assign(acc=100 * data["acc"],
                       when=data["when"].map({"best_acc": "best (early-stopped)", "final_acc": "final epoch"}))
    fig, axes = subplots(1, width=9, height=3.8)
    ax = axes[0][0]
    sns.barplot(data=data, y="Method", x="acc", hue="when", errorbar="sd", ax=ax, alpha=0.8)
    sns.stripplot(data=data, y="Method", x="acc", hue="when", dodge=True, ax=ax, size=3, legend=False,
                  palette={"best (early-stopped)": "k", "final epoch": "k"})
    ax.set(xlabel="clean test accuracy (%)", ylabel="", title="Best vs. final accuracy (bars: mean ± std over seeds)")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), title=None, fontsize="small")
    return fig


def linear_ratios(result: Result):
    """Linear toy: mean SAM gradient weight of clean and of noisy examples over training (rho = 0,
    i.e. SGD, against the largest rho), their ratio per rho, and the ratio averaged over training."""
    lin = result.linear
    fig, axes = subplots(3, width=4.4)
    rhos = sorted(lin["rho"].unique())
    both = lin[lin["rho"].isin([rhos[0], rhos[-1]])].melt(
        id_vars=["step", "seed", "rho"], value_vars=["clean_weight", "noisy_weight"],
        var_name="examples", value_name="weight")
    both = both.assign(examples=both["examples"].str.replace("_weight", ""),
                       rho=both["rho"].map(lambda r: "SGD (ρ = 0)" if r == 0 else f"SAM, ρ = {r:g}"))
    sns.lineplot(data=both, x="step", y="weight", hue="rho", style="examples", errorbar="sd",
                 ax=axes[0][0], palette=[COLORS["sgd"], COLORS["sam"]])
    axes[0][0].set(xlabel="gradient step (full batch)", ylabel="mean gradient weight σ(·)",
                   title="Per-example gradient weights")
    axes[0][0].legend(title=None, fontsize="x-small")
    ratio = lin.assign(rho=lin["rho"].map(lambda r: f"ρ = {r:g}"))
    sns.lineplot(data=ratio, x="step", y="ratio", hue="rho", errorbar="sd", ax=axes[0][1],
                 palette="viridis")
    axes[0][1].set(xlabel="gradient step (full batch)", ylabel="mean weight clean / noisy",
                   title="SAM up-weights clean examples")
    axes[0][1].legend(title=None, fontsize="x-small")
    summary = lin.groupby(["rho", "seed"])["ratio"].mean().reset_index()
    sns.pointplot(data=summary, x="rho", y="ratio", errorbar="sd", ax=axes[0][2], color="C0")
    axes[0][2].set(xlabel="SAM radius ρ", ylabel="clean / noisy, averaged over training",
                   title="The ratio rises with ρ")
    return fig


def two_layer_norms(result: Result):
    """Two-layer linear net: ||v|| and mean ||W x|| over training for SGD, J-SAM and SAM."""
    data = _labelled(result.two_layer)
    fig, axes = subplots(2, width=5.2)
    for ax, col, ylabel in zip(axes[0], ("last_layer_norm", "feature_norm"),
                               ("last-layer weight norm ‖v‖", "mean feature norm ‖Wx‖")):
        sns.lineplot(data=data, x="step", y=col, hue="Method", errorbar="sd", ax=ax,
                     palette=_palette(["sgd", "jsam", "sam"]), legend=ax is axes[0][0])
        ax.set(xlabel="gradient step (full batch)", ylabel=ylabel)
    axes[0][0].legend(title=None, fontsize="small")
    fig.suptitle("J-SAM's implicit penalty shrinks last-layer weights and features")
    return fig


def explore(result: Result, label_noise_rate: float, rho: float, epochs: int, seed: int):
    """Explorer: SGD vs SAM vs J-SAM on digits for one seed at the chosen noise rate and rho
    (trains its own small models; ``result`` only supplies the chapter's other settings)."""
    s = Config(label_noise_rate=label_noise_rate, rho=rho, epochs=epochs, seed=seed, n_seeds=1,
               n_train=result.settings.n_train).resolve()
    split = experiments.load_split(s, seed)
    frames = [experiments.train_one(m, split, s, seed, "cpu") for m in ("sgd", "sam", "jsam")]
    data = _labelled(pd.concat(frames))
    fig, axes = subplots(1, width=6)
    sns.lineplot(data=data.assign(pct=100 * data["test_acc"]), x="epoch", y="pct", hue="Method",
                 palette=_palette(["sgd", "sam", "jsam"]), ax=axes[0][0])
    axes[0][0].set(xlabel="epoch", ylabel="clean test accuracy (%)",
                   title=f"noise {label_noise_rate:.0%}, ρ = {rho:g}, seed {seed}")
    plt.show()
