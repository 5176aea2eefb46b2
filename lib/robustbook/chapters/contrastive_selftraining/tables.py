"""Chapter 07's tables: target accuracy per method (theory model, images) and the logit-scale sweep."""

from __future__ import annotations

import pandas as pd

from robustbook.book.results import mean_std
from robustbook.chapters.contrastive_selftraining.experiments import IMAGE_METHODS, THEORY_METHODS
from robustbook.chapters.contrastive_selftraining.result import Result


def theory_table(result: Result) -> pd.DataFrame:
    """Target accuracy (%) per method, with and without shift, mean ± std over seeds; Bayes last."""
    table = {}
    for setting, g in result.theory.groupby("setting", sort=False):
        table[f"target acc. (%), {setting}"] = {
            label: mean_std(g[g["method"] == m]["target_acc"], 100, 2)
            for m, label in THEORY_METHODS.items() if (g["method"] == m).any()}
    frame = pd.DataFrame(table)
    frame.loc["Bayes optimum"] = f"{100 * result.bayes_target_acc:.2f}"
    return frame.fillna("—")


def scale_table(result: Result) -> pd.DataFrame:
    """ST and STOC target accuracy (%) per logit scale: mean ± std and the worst seed."""
    rows = []
    for (scale, method), g in result.scales.groupby(["logit_scale", "method"]):
        rows.append({"logit scale": scale, "method": THEORY_METHODS[method],
                     "target acc. (%)": mean_std(g["target_acc"], 100, 1),
                     "worst seed (%)": f"{100 * g['target_acc'].min():.1f}",
                     "best seed (%)": f"{100 * g['target_acc'].max():.1f}"})
    return pd.DataFrame(rows).set_index(["logit scale", "method"])


def image_table(result: Result) -> pd.DataFrame:
    """Target and source accuracy (%) per image method, mean ± std, and each seed's target accuracy."""
    rows = []
    for m, label in IMAGE_METHODS.items():
        g = result.images[result.images["method"] == m].sort_values("seed")
        rows.append({"method": label, "target acc. (%)": mean_std(g["target_acc"], 100),
                     "source acc. (%)": mean_std(g["source_acc"], 100),
                     "per seed (%)": ", ".join(f"{100 * a:.1f}" for a in g["target_acc"])})
    return pd.DataFrame(rows).set_index("method")
