"""Chapter 05's figures, template tables and the explorer ``explore(result, **knobs)``. Each figure
function draws from a ``Result``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from robustbook.book.plotting import colors_for, not_drawn, subplots
from robustbook.chapters.echo_embeddings import experiments
from robustbook.chapters.echo_embeddings.result import Result
from robustbook.data.synthetic_language import Sentence
from robustbook.embeddings import PAPER_TEMPLATES, ZERO_SHOT_TEMPLATES, metrics, render, show_pooled
from robustbook.embeddings.bidirectional import minilm_path

EMBEDDINGS = ["classical", "echo", "bidirectional"]
LABELS = {"classical": "classical (causal)", "echo": "echo (causal)", "bidirectional": "MiniLM (bidirectional)"}
COLORS = colors_for(EMBEDDINGS)
CHANCE = {"late_triplet": 0.5, "concept_probe": 1 / 8, "hard_triplet": 0.5}
TASK_NAMES = {"late_triplet": "late\ntriplet", "concept_probe": "concept\nprobe", "hard_triplet": "hard\ntriplet",
              "sts_spearman": "STS\n(Spearman)", "retrieval_ndcg10": "retrieval\n(nDCG@10)"}


def similarity_structure(result: Result):
    """Cosine similarity of mean-pooled embeddings, sentences sorted by concept (blocks of 4).
    Top: early-span embeddings of sentences that share one early span (only the late words
    differ). Bottom: whole-sentence embeddings of sentences with different early words. Each row
    shares one colour scale, from its smallest value to 1."""
    panels = [(model, strategy) for model, spans in result.similarity.items() for strategy in spans["early"]]
    fig, axes = subplots(len(panels), 2, width=3.3, height=3.0)
    for row, span in enumerate(("early", "whole")):
        vmin = min(float(result.similarity[m][span][st].min()) for m, st in panels)
        for col, (model, strategy) in enumerate(panels):
            ax, last = axes[row][col], col == len(panels) - 1
            sns.heatmap(result.similarity[model][span][strategy], ax=ax, vmin=min(vmin, 0.99), vmax=1,
                        cmap="mako", square=True, cbar=last, xticklabels=False, yticklabels=False,
                        cbar_kws={"label": "cosine similarity"} if last else None)
            where = "early span, shared early words" if span == "early" else "whole sentence"
            ax.set_title(f"{LABELS[strategy]}\n{where}", fontsize="small")
            ax.set(xlabel="sentence (sorted by concept)" if row == 1 else "",
                   ylabel="sentence" if col == 0 else "")
    fig.suptitle(f"Similarity structure, seed {result.settings.seed} (8 concepts × 4 sentences)")
    return fig


def whole_sentence_cause(result: Result):
    """Why echo fails on whole sentences here. Left: hard-triplet accuracy of whole-sentence
    embeddings pooled over the early words only or the late words only (echo: of the second copy);
    bars = mean ± std over seeds, dots = seeds, dashes = chance. Right: how much the early-word part
    varies across sentences relative to the late-word part (log scale)."""
    if result.cause is None:
        return not_drawn("the diagnosis runs with the tiny LM only (presets cpu and smoke)")
    data = result.cause.assign(embedding=result.cause["strategy"].map(LABELS))
    palette = {LABELS[k]: COLORS[k] for k in ("classical", "echo")}
    fig, axes = subplots(2, width=4.4, height=3.6)
    acc = data[data["measure"].str.startswith("accuracy")].assign(
        pooled=lambda d: d["measure"].str.removeprefix("accuracy: "))
    sns.barplot(data=acc, x="pooled", y="value", hue="embedding", palette=palette, errorbar="sd", ax=axes[0][0])
    sns.stripplot(data=acc, x="pooled", y="value", hue="embedding", palette=palette, dodge=True, color="k",
                  size=3, legend=False, ax=axes[0][0])
    axes[0][0].axhline(CHANCE["hard_triplet"], color="k", ls="--", lw=0.8)
    axes[0][0].set(xlabel="whole-sentence embedding pooled over", ylabel="hard-triplet accuracy", ylim=(0, 1.05),
                   title="Which words decide the triplet")
    spread = data[data["measure"] == "spread: early / late"]
    sns.barplot(data=spread, x="embedding", y="value", hue="embedding", palette=palette, errorbar="sd",
                ax=axes[0][1], legend=False)
    axes[0][1].set(yscale="log", xlabel="", ylabel="early / late spread",
                   title="How much the early words vary")
    return fig


def finetune_curves(result: Result):
    """Contrastive fine-tuning with classical and with echo embeddings on the same concept pairs:
    each whole-sentence task's score against the number of fine-tuning steps (0 = the zero-shot
    embedding; mean over the fine-tuned seeds, bars = ±1 std; steps on an ordinal axis)."""
    if result.finetune is None:
        return not_drawn("fine-tuning runs with the tiny LM only and ft_seeds >= 1")
    data = result.finetune.assign(embedding=result.finetune["strategy"].map(LABELS))
    palette = {LABELS[k]: COLORS[k] for k in ("classical", "echo")}
    tasks = [t for t in experiments.TASKS if t not in experiments.EARLY_TASKS]
    fig, axes = subplots(len(tasks), width=3.4, height=3.0)
    for ax, task in zip(axes[0], tasks):
        sns.pointplot(data=data[data["task"] == task], x="steps", y="score", hue="embedding", palette=palette,
                      errorbar="sd", ax=ax, legend=task == tasks[0])
        ax.set(xlabel="fine-tuning steps (8 pairs each)", ylabel="score" if task == tasks[0] else "",
               title=TASK_NAMES[task].replace("\n", " "))
    return fig


SWEEP_METRIC = "metric.scores.tiny GPT-2.{strategy}.mean.{task}.mean"


def scale_gaps(table: pd.DataFrame) -> pd.DataFrame:
    """From a sweep table of this chapter (``robustbook sweep echo-embeddings``): per run, the
    classical-minus-echo score on each whole-sentence task and their mean (``gap``)."""
    table = table[table["status"] == "ok"]
    tasks = [t for t in experiments.TASKS if t not in experiments.EARLY_TASKS]
    gaps = {t: table[SWEEP_METRIC.format(strategy="classical", task=t)] - table[SWEEP_METRIC.format(strategy="echo", task=t)]
            for t in tasks}
    out = table[["param.n_embd", "param.epochs", "param.seed"]].rename(columns=lambda c: c.removeprefix("param."))
    return out.assign(**gaps, gap=sum(gaps.values()) / len(gaps)).reset_index(drop=True)


def scale_sweep(result: Result):
    """How echo's whole-sentence deficit moves with the tiny LM's width and training length, from
    the sweep table shipped with the book (``robustbook.sweep.book_sweep("echo-embeddings")``, one
    seed per run, two seeds per point; not this execution): classical minus echo, mean of the three
    whole-sentence tasks (0 = no deficit). The ring marks this run's width and training length."""
    from robustbook.sweep import book_sweep

    gaps = scale_gaps(book_sweep("echo-embeddings"))
    fig, axes = subplots(1, width=5.6, height=3.8)
    ax = axes[0][0]
    sns.pointplot(data=gaps, x="n_embd", y="gap", hue="epochs", errorbar=("pi", 100), dodge=0.3, ax=ax,
                  palette="crest")
    here = gaps[(gaps["n_embd"] == result.settings.n_embd) & (gaps["epochs"] == result.settings.epochs)]
    if not here.empty:
        widths = sorted(gaps["n_embd"].unique())
        ax.scatter([widths.index(result.settings.n_embd)], [here["gap"].mean()], s=260, facecolor="none",
                   edgecolor="k", lw=1.2, zorder=5, label="this run's setting")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel="tiny GPT-2 width (n_embd)", ylabel="classical − echo (mean of 3 tasks)",
           title="Echo's whole-sentence deficit vs. model size")
    ax.legend(title="epochs", fontsize="small")
    return fig


def _mean_pooled(result: Result) -> pd.DataFrame:
    data = result.scores[result.scores["pooling"] == "mean"]
    return data.assign(embedding=data["strategy"].map(LABELS))


def classical_vs_echo(result: Result):
    """Scores per task (mean pooling): bars = mean ± std over seeds, dots = seeds, dashes = chance.
    Left: early-span tasks; right: whole-sentence tasks."""
    data = _mean_pooled(result)
    fig, axes = subplots(2, width=5.0, height=3.8)
    palette = {LABELS[k]: COLORS[k] for k in EMBEDDINGS}
    for ax, tasks, title in ((axes[0][0], experiments.EARLY_TASKS, "Early span: do late words show?"),
                             (axes[0][1], [t for t in experiments.TASKS if t not in experiments.EARLY_TASKS],
                              "Whole sentence: downstream-style tasks")):
        part = data[data["task"].isin(tasks)]
        part = part.assign(task=part["task"].map(TASK_NAMES))
        order = [TASK_NAMES[t] for t in tasks]
        sns.barplot(data=part, x="task", y="score", hue="embedding", order=order, errorbar="sd",
                    palette=palette, ax=ax, alpha=0.85, legend=ax is axes[0][1])
        sns.stripplot(data=part, x="task", y="score", hue="embedding", order=order, dodge=True,
                      palette={k: "k" for k in palette}, size=3, legend=False, ax=ax)
        for i, task in enumerate(tasks):
            if task in CHANCE:
                ax.hlines(CHANCE[task], i - 0.45, i + 0.45, colors="grey", linestyles="--", lw=1)
        ax.set(xlabel="", ylabel="accuracy / correlation / nDCG (0–1)", ylim=(0, 1.05), title=title)
    sns.move_legend(axes[0][1], "upper left", bbox_to_anchor=(1.02, 1.0), title=None, fontsize="small")
    return fig


def template_table(tokenizer, templates: dict, sentence: Sentence) -> pd.DataFrame:
    """For each template: its source, the rendered tokens with pooled ones in [brackets], and
    the pooled positions (0-based token indices)."""
    rows = []
    for key, source in templates.items():
        enc = render(source, tokenizer, {**sentence.fields(), "prompt": "Retrieve similar text"})
        rows.append({"template": " / ".join(key) if isinstance(key, tuple) else key,
                     "source": source.replace("\n", "\\n"), "tokens ([pooled])": show_pooled(enc, tokenizer),
                     "pooled positions": enc.pooled_positions})
    return pd.DataFrame(rows).set_index("template")


def paper_template_table(sentence: Sentence) -> pd.DataFrame:
    """The paper's templates rendered with a real subword tokenizer available offline (MiniLM's
    WordPiece; a Mistral tokenizer splits differently, the same code marks its positions)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_path(), local_files_only=True)
    templates = {f"{kind} / {role}": t for kind, roles in PAPER_TEMPLATES.items() for role, t in roles.items()}
    templates.update({f"{kind} / zero-shot": t for kind, t in ZERO_SHOT_TEMPLATES.items()})
    return template_table(tokenizer, templates, sentence)


def _sentence(text: str, early_words: int) -> Sentence:
    words = tuple(text.split())
    return Sentence(words[:early_words], words[early_words:], -1)


def explore(result: Result, sentence_a: str, sentence_b: str, early_words: int = 6) -> None:
    """Explorer: cosine similarity of two sentences under every embedding, over the first
    ``early_words`` words (early span) and over the whole sentence. Words outside the tiny
    LM's vocabulary become <unk> for it (MiniLM reads them as they are)."""
    model, tokenizer = result.lm
    pair = [_sentence(sentence_a, early_words), _sentence(sentence_b, early_words)]
    if any(not s.early or not s.late for s in pair):
        print(f"each sentence needs more than {early_words} words (an early and a late part)")
        return
    rows = []
    embedders = {result.lm_name: experiments.lm_embedder(model, tokenizer, _templates(result))}
    if result.minilm:
        embedders[experiments.MINILM] = experiments.minilm_embedder(*result.minilm)
    for embedder in embedders.values():
        for span in ("early", "whole"):
            for (strategy, pooling), emb in embedder(pair, span).items():
                if pooling == "mean":
                    rows.append({"span": span, "embedding": LABELS[strategy],
                                 "cosine": float(metrics.cosine_matrix(emb[:1], emb[1:])[0, 0])})
    fig, axes = subplots(1, width=6.5, height=3.2)
    sns.barplot(data=pd.DataFrame(rows), x="span", y="cosine", hue="embedding", ax=axes[0][0],
                palette={LABELS[k]: COLORS[k] for k in EMBEDDINGS})
    for container in axes[0][0].containers:
        axes[0][0].bar_label(container, fmt="%.2f", fontsize="x-small")
    unknown = sorted({w for s in pair for w in s.early + s.late if w not in tokenizer.get_vocab()})
    shared = "the same" if pair[0].early == pair[1].early else "different"
    title = f"A vs B: {shared} early words" + (f"; unknown to the tiny LM: {', '.join(unknown)}" if unknown else "")
    axes[0][0].set(ylabel="cosine similarity (mean pooling)", xlabel="pooled span", title=title)
    sns.move_legend(axes[0][0], "upper left", bbox_to_anchor=(1.02, 1.0), title=None, fontsize="small")
    plt.show()


def _templates(result: Result) -> dict:
    return experiments.TINY_TEMPLATES if result.settings.train_lm else experiments.PRETRAINED_TEMPLATES

