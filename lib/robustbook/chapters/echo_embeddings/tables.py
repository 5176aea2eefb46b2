"""Chapter 05's tables, each drawn from a ``Result``."""

from __future__ import annotations

import pandas as pd

from robustbook.book.results import mean_std
from robustbook.chapters.echo_embeddings.result import Result

TASK_LABELS = {"late_triplet": "late triplet (early span)", "concept_probe": "concept probe (early span)",
               "hard_triplet": "hard triplet (whole)", "sts_spearman": "STS Spearman (whole)",
               "retrieval_ndcg10": "retrieval nDCG@10 (whole)"}


def ablation_table(result: Result) -> pd.DataFrame:
    """Every task for every model, strategy and pooling: mean ± std over seeds (accuracies and
    correlations on a 0-1 scale). Early-span tasks pool the early words only."""
    rows = []
    for (model, strategy, pooling), g in result.scores.groupby(["model", "strategy", "pooling"], sort=False):
        row = {"model": model, "embedding": strategy, "pooling": pooling}
        for task, label in TASK_LABELS.items():
            row[label] = mean_std(g[g["task"] == task].sort_values("seed")["score"], digits=3)
        rows.append(row)
    return pd.DataFrame(rows).set_index(["model", "embedding", "pooling"])


def tie_table(result: Result) -> pd.DataFrame:
    """Early-span triplets of the causal LM: share of exact ties and the largest
    |cos(q, s+) - cos(q, s-)|, over all seeds."""
    g = result.diagnostics.groupby(["strategy", "pooling"])
    return pd.DataFrame({"ties (share of triplets)": g["tie_fraction"].mean(),
                         "max |cos(q,s+) - cos(q,s-)|": g["max_abs_margin"].max()})


def mteb_table(result: Result) -> pd.DataFrame | str:
    """First seed, mean pooling: our metrics vs the same embeddings scored by mteb."""
    if result.mteb_check is None:
        return "(mteb check off)"
    rows = [{"embedding": st, "task": task, "ours": result.mteb_check["ours"][st][task], "mteb": value}
            for st, tasks in result.mteb_check["mteb"].items() for task, value in tasks.items()]
    frame = pd.DataFrame(rows)
    return frame.assign(difference=frame["mteb"] - frame["ours"]).set_index(["embedding", "task"])


def paper_mteb_table(result: Result) -> pd.DataFrame | str:
    """Preset paper: mteb's main score per real MTEB task, classical vs echo (zero-shot prompts)."""
    if result.paper_mteb is None:
        return "(preset paper only)"
    return result.paper_mteb.pivot(index="task", columns="strategy", values="score")


def scale_trend(result: Result) -> str:
    """Markdown: how the classical-minus-echo gap of the book's sweep table moves from the smallest
    to the largest width (at this run's training length) and from the shortest to the longest
    training (at this run's width) — said from the table, whichever way it goes."""
    from robustbook.chapters.echo_embeddings.plots import scale_gaps
    from robustbook.sweep import book_sweep

    gaps = scale_gaps(book_sweep("echo-embeddings"))
    s = result.settings

    def trend(rows: pd.DataFrame, knob: str, unit: str) -> str:
        means = rows.groupby(knob)["gap"].mean()
        if len(means) < 2:
            return f"the sweep has one {knob} only at this setting"
        lo, hi = means.index.min(), means.index.max()
        change = means[hi] - means[lo]
        word = "narrows" if change < -0.02 else "widens" if change > 0.02 else "barely moves"
        return f"from {knob} {int(lo)} to {int(hi)}{unit} the gap {word} ({means[lo]:.2f} → {means[hi]:.2f})"

    by_width = gaps[gaps["epochs"] == s.epochs]
    by_epochs = gaps[gaps["n_embd"] == s.n_embd]
    widths = trend(by_width, "n_embd", "") if not by_width.empty else f"the sweep has no run with {s.epochs} epochs"
    lengths = trend(by_epochs, "epochs", "") if not by_epochs.empty else f"the sweep has no run of width {s.n_embd}"
    means = gaps.groupby(["n_embd", "epochs"])["gap"].mean()
    (w, e), smallest = means.idxmin(), means.min()
    smallest = 0.0 if abs(smallest) < 0.005 else smallest
    behind = int((means > 0.02).sum())
    return (f"In the book's sweep (classical − echo, mean of the three whole-sentence tasks; 0 = no deficit): "
            f"{widths}; {lengths}. The smallest deficit, {smallest:.2f}, is at width {int(w)} after {int(e)} "
            f"epoch{'s' if e != 1 else ''}; echo is behind classical by more than 0.02 at {behind} of the "
            f"{len(means)} settings.")
