"""Chapter 10's figures and explorer (seaborn, the book's theme)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from robustbook.book.plotting import colors_for, subplots
from robustbook.chapters.conjugate_prompting.claims import recovered_share
from robustbook.chapters.conjugate_prompting.result import Result
from robustbook.chapters.conjugate_prompting.tables import MODELS, late_losses

CURVES = (*MODELS, "fine-tuned, conjugate")
PALETTE = colors_for(list(CURVES))
DASHED = {m: (2, 2) if m.startswith("bayes") else "" for m in CURVES}


def _curves(result: Result, family: str, c: float, ft_steps: int) -> pd.DataFrame:
    """Loss vs examples for the transformers (plain; fine-tuned also at scale c) and Bayes."""
    d = result.losses[result.losses["family"] == family]
    pre = d[(d["model"] == "pretrained") & (d["c"] == 1.0)]
    ft = d[(d["model"] == "fine-tuned") & (d["ft_steps"] == ft_steps)]
    conj = ft[ft["c"] == c].assign(model="fine-tuned, conjugate")
    return pd.concat([pre, ft[ft["c"] == 1.0], conj, d[d["model"].str.startswith("bayes")]])


def loss_vs_examples(result: Result):
    """ICL loss vs number of in-context examples, continuous and discrete prompts (mean over seeds, band ± 1 std)."""
    s = result.settings
    fig, axes = subplots(2, width=5.5)
    for ax, family in zip(axes[0], ("continuous", "discrete")):
        data = _curves(result, family, s.conjugate_c, s.ft_steps)
        sns.lineplot(data=data, x="examples", y="mse", hue="model", style="model", dashes=DASHED,
                     palette=PALETTE, errorbar="sd", ax=ax, legend=family == "continuous")
        ax.set(xlabel="in-context examples before the query", ylabel="squared error (y units²)",
               title=f"{family} tasks")
    axes[0][0].legend(title=f"conjugate: x → {s.conjugate_c:g}x", fontsize=8)
    plt.show()


def conjugate_sweep(result: Result):
    """Left: late continuous-task MSE vs input scale c. Right: share of the forgetting gap recovered."""
    s = result.settings
    late = pd.concat([late_losses(result, c=c).assign(c=c) for c in s.c_grid])
    late = late[(late["family"] == "continuous") & ~late["model"].str.startswith("bayes")]
    fig, axes = subplots(2, width=5.0)
    sns.lineplot(data=late, x="c", y="mse", hue="model", palette=PALETTE, marker="o", errorbar="sd", ax=axes[0][0])
    axes[0][0].set(xlabel="input scale c of the conjugate prompt (x → c·x)",
                   ylabel="late-query squared error (y units²)", title="continuous tasks")
    wide = late.pivot_table(index=["seed", "c"], columns="model", values="mse").reset_index()
    plain = wide[wide["c"] == 1.0].set_index("seed")
    wide["share"] = [recovered_share(plain.loc[r.seed, "fine-tuned"], r["fine-tuned"], plain.loc[r.seed, "pretrained"])
                     for _, r in wide.iterrows()]
    sns.lineplot(data=wide.dropna(subset=["share"]), x="c", y="share", marker="o", errorbar="sd", ax=axes[0][1])
    axes[0][1].axhline(0, color="grey", lw=1)
    axes[0][1].set(xlabel="input scale c", ylabel="share of forgetting gap recovered",
                   title="conjugate prompting (mean ± 1 std over seeds)")
    plt.show()


def implied_priors(result: Result):
    """Implied P(discrete) on continuous prompts vs fine-tuning steps (0 = pretrained)."""
    fig, axes = subplots(1, width=5.5)
    sns.lineplot(data=result.models, x="ft_steps", y="implied_prior", marker="o", errorbar="sd", ax=axes[0][0])
    axes[0][0].axhline(result.settings.p_discrete, color="grey", ls="--", lw=1, label="pretraining prior")
    axes[0][0].set(xlabel="fine-tuning steps on the discrete pool", ylim=(-0.05, 1.05),
                   ylabel="implied P(discrete task)", title="implicit task inference")
    axes[0][0].legend()
    plt.show()


def explore(result: Result, c: float, ft_steps: int):
    """Explorer: continuous-task loss vs examples at conjugate scale ``c`` after ``ft_steps`` fine-tuning
    steps (values recorded by the run: c from ``c_grid``, steps from the fine-tuning checkpoints)."""
    data = _curves(result, "continuous", c, ft_steps)
    fig, axes = subplots(1, width=6)
    sns.lineplot(data=data, x="examples", y="mse", hue="model", style="model", dashes=DASHED,
                 palette=PALETTE, errorbar="sd", ax=axes[0][0])
    axes[0][0].set(xlabel="in-context examples before the query", ylabel="squared error (y units²)",
                   title=f"continuous tasks: c = {c:g}, {ft_steps} fine-tuning steps")
    plt.show()
