"""Chapter 04's figures and explorer. Each function draws one figure from a ``Result``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from robustbook.book.chapter import generator
from robustbook.book.plotting import colors_for, subplots
from robustbook.chapters.purple_problem import attacks
from robustbook.chapters.purple_problem.experiments import ATTACKS, DEFENSES, _judge
from robustbook.chapters.purple_problem.result import Result
from robustbook.jailbreak.chat import attack_problem
from robustbook.jailbreak.gcg import GCGSettings, gcg_attack

COLORS = colors_for(list(DEFENSES.values()))


def asr_bars(result: Result):
    """ASR (%) per attack and defense: bars are means over seeds, dots are seeds."""
    rows = [{"attack": ATTACKS[a], "defense": DEFENSES[d], "seed": seed, "asr": 100 * v}
            for a, by_d in result.metrics["asr"].items() for d, vals in by_d.items()
            for seed, v in zip(result.metrics["seeds"], vals)]
    data = pd.DataFrame(rows)
    fig, axes = subplots(1, width=8.5, height=3.8)
    ax = axes[0][0]
    sns.barplot(data=data, x="attack", y="asr", hue="defense", palette=COLORS, errorbar=None, ax=ax, alpha=0.85)
    sns.stripplot(data=data, x="attack", y="asr", hue="defense", dodge=True, palette=["k"] * 3, size=3,
                  legend=False, ax=ax)
    ax.set(xlabel="attack on held-out purple questions", ylabel="attack success rate (%)", ylim=(0, 105),
           title="Who says purple? (bars: mean over seeds, dots: seeds)")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), title=None, fontsize="small")
    return fig


def loss_curves(result: Result):
    """GCG's best objective (target NLL, + fluency x log-perplexity for the adaptive attack) per
    step; one line per attacked prompt, colour = seed."""
    curves = result.curves.assign(seed=lambda f: f["seed"].astype(str))
    fig, axes = subplots(2, width=5.0)
    for ax, attack in zip(axes[0], ("gcg", "adaptive")):
        g = curves[curves["attack"] == attack]
        if len(g):
            sns.lineplot(data=g, x="step", y="best_loss", hue="seed", units="prompt", estimator=None,
                         ax=ax, lw=0.9, alpha=0.8, legend=ax is axes[0][1])
        ax.set(xlabel="GCG step (restarts continue the count)", ylabel="best objective so far (nats)",
               title=ATTACKS[attack])
    if len(curves):
        axes[0][1].legend(title="seed", fontsize="x-small")
    return fig


def purple_rates(result: Result):
    """Clean purple rate on held-out questions before and after DPO, and benign accuracy, per seed."""
    d = result.defense
    data = pd.DataFrame({"seed": list(d["seed"]) * 3,
                         "measure": ["purple, before DPO"] * len(d) + ["purple, after DPO"] * len(d)
                         + ["benign colour right, after DPO"] * len(d),
                         "pct": [100 * v for v in [*d["purple_before"], *d["purple_after"], *d["benign_after"]]]})
    fig, axes = subplots(1, width=6.5, height=3.4)
    sns.barplot(data=data, x="measure", y="pct", errorbar="sd", ax=axes[0][0], color="C0", alpha=0.7)
    sns.stripplot(data=data, x="measure", y="pct", color="k", size=4, ax=axes[0][0])
    axes[0][0].set(xlabel="", ylabel="share of held-out questions (%)", ylim=(0, 105),
                   title="The fine-tuning defense on clean prompts")
    return fig


def explore(result: Result, question: int, steps: int, fluency: float):
    """Explorer: attack held-out question number ``question`` of the first seed's defended model
    with a short GCG run (``steps``, one restart; ``fluency`` > 0 for the adaptive objective), then
    show the loss curve, the reply and what each filter says."""
    s = result.settings
    subject = result.subjects[s.seed]
    threshold = float(result.defense.iloc[0]["ppl_threshold"])
    q = subject.heldout[question % len(subject.heldout)]
    tok, device = subject.tokenizer, next(subject.model.parameters()).device
    problem = attack_problem(tok, *subject.render(q), s.target, device)
    allowed = attacks.allowed_tokens(tok, subject.model.get_input_embeddings().weight.shape[0]).to(device)
    cfg = GCGSettings(suffix_len=s.suffix_len, steps=steps, restarts=1, top_k=s.top_k,
                      n_candidates=s.n_candidates, fluency=fluency, check_every=max(1, steps))
    res = gcg_attack(subject.model, tok, problem, allowed, lambda _: False, cfg, generator(s.seed, "explore", question))
    judged = _judge(subject, s, q, tok.decode(res.suffix.tolist()), threshold)
    fig, axes = subplots(1, width=6.5, height=3.2)
    axes[0][0].plot(range(1, len(res.losses) + 1), res.losses, marker=".")
    axes[0][0].set(xlabel="GCG step", ylabel="best objective (nats)",
                   title=f"{q}  +  [{judged['suffix']}]", ylim=(0, None))
    verdict = (f"reply: {judged['reply']!r}\nsays purple: {judged['said_purple']} | perplexity filter: "
               f"{'BLOCKS' if judged['ppl_flagged'] else 'passes'} (log-ppl {judged['log_ppl']:.2f} vs "
               f"{threshold:.2f}) | output filter: {'BLOCKS' if judged['output_flagged'] else 'passes'}")
    fig.text(0.01, -0.12, verdict, fontsize="small", family="monospace")
    plt.show()

