"""Chapter 06's tables: scores per method, the objectives the searches found, scores per shift."""

from __future__ import annotations

import pandas as pd

from robustbook.autoft.losses import TERMS
from robustbook.book.results import mean_std
from robustbook.chapters.autoft.claims import METHODS, _method_rows
from robustbook.chapters.autoft.experiments import METHOD_LABELS
from robustbook.chapters.autoft.result import Result

LABELS = {**METHOD_LABELS, "wise_ft": "WiSE-FT (alpha on OOD val)", "wise_ft_05": "WiSE-FT (alpha 0.5)"}


def summary_table(result: Result) -> pd.DataFrame:
    """ID test, OOD validation and held-out OOD test score (%) per method, mean ± std over seeds."""
    rows = _method_rows(result)
    return pd.DataFrame([{"method": LABELS[m], **{f"{col} (%)": mean_std(rows[m][col], 100)
                                                  for col in ("id_test", "ood_val", "ood_test")}}
                         for m in METHODS]).set_index("method")


def weights_table(result: Result, searches=("autoft", "search_id_val")) -> pd.DataFrame:
    """The objective each search found, per seed: loss-term weights, lr, weight decay, seed."""
    sc = result.scores[result.scores["method"].isin(searches)]
    cols = [f"w_{t}" for t in TERMS if f"w_{t}" in sc] + ["lr", "weight_decay", "hp_seed"]
    out = sc.assign(search=sc["method"].map(METHOD_LABELS))[["search", "seed", *cols]]
    return out.rename(columns=lambda c: c.removeprefix("w_")).set_index(["search", "seed"])


def shift_table(result: Result) -> pd.DataFrame:
    """Held-out OOD test score (%) per method (rows) and test shift (columns), mean over seeds."""
    rows = _method_rows(result)
    shifts = [c for c in result.scores if c.startswith("test:")]
    return pd.DataFrame({c.removeprefix("test:"): {LABELS[m]: round(100 * rows[m][c].mean(), 1)
                                                  for m in METHODS} for c in shifts})
