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
