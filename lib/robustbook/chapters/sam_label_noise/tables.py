"""Chapter 01's tables: accuracies per method, and 1-SAM against mini-batch SAM."""

from __future__ import annotations

import pandas as pd

from robustbook.book.results import mean_std
from robustbook.chapters.sam_label_noise.experiments import METHOD_LABELS, SAM_MODE_LABELS
from robustbook.chapters.sam_label_noise.result import Result


def summary_table(result: Result) -> pd.DataFrame:
    """Best (early-stopped) and final clean test accuracy per method, in %, mean ± std over seeds."""
    rows = []
    for method, label in METHOD_LABELS.items():
        g = result.summary[result.summary["method"] == method]
        if g.empty:
            continue
        rows.append({"method": label,
                     "best acc. (%)": mean_std(g["best_acc"], 100),
                     "best epoch": f"{g['best_epoch'].mean():.1f}",
                     "final acc. (%)": mean_std(g["final_acc"], 100),
                     "wrong labels fitted at the end (%)": mean_std(g["final_memorized"], 100)})
    return pd.DataFrame(rows).set_index("method")


def one_sam_table(result: Result) -> pd.DataFrame:
    """Early-stopped accuracy (%) per method (rows) and perturbation mode (columns) on the subset."""
    table = {}
    for mode, label in SAM_MODE_LABELS.items():
        g = result.one_sam[result.one_sam["sam_mode"] == mode]
        table[label] = {METHOD_LABELS[m]: mean_std(g[g["method"] == m]["best_acc"], 100)
                        for m in dict.fromkeys(g["method"])}
    return pd.DataFrame(table).rename_axis(
        f"best acc. (%), first {result.settings.one_sam_n_train} training examples")
