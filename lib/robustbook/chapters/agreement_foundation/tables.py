"""Chapter 03's tables from a ``Result``: estimation errors per method and ensemble, and the
accuracy / agreement lines per ensemble. Per seed every number is first averaged over the shifts
(equal weight per shift); a seed where ALine refused on any shift has no ALine mean, and the
table says on how many (seed, shift) cases it refused instead of averaging over the rest."""

from __future__ import annotations

import re

import pandas as pd

from robustbook.book.results import mean_std
from robustbook.chapters.agreement_foundation.experiments import ENSEMBLE_LABELS, ENSEMBLES
from robustbook.chapters.agreement_foundation.result import Result
from robustbook.shift import METHOD_LABELS, METHODS


def per_seed(frame: pd.DataFrame, column: str, by: list[str]) -> pd.Series:
    """Mean of ``column`` over the shifts within each group of ``by`` (which includes "seed");
    NaN for a group with any NaN (a refusal is never averaged away)."""
    return frame.groupby(by)[column].agg(lambda v: v.mean(skipna=False))


def _cell(values: pd.Series, refused: int, cases: int, digits: int = 2) -> str:
    if refused:
        defined = values.dropna()
        text = mean_std(defined, digits=digits) + " on answered seeds" if len(defined) else "undefined"
        return f"{text}; refused {refused}/{cases}"
    return mean_std(values, digits=digits)


def error_table(result: Result, measure: str = "mae") -> pd.DataFrame:
    """``measure`` ("mae": points, "mape": %) per method (rows) and ensemble (columns), mean over
    shifts within a seed, then mean ± std over seeds; ALine refusals are counted in the cell."""
    errors = result.errors
    seeds = per_seed(errors, measure, ["ensemble", "method", "seed"])
    table = {}
    for e in ENSEMBLES:
        column = {}
        for m in METHODS:
            rows = errors[(errors.ensemble == e) & (errors.method == m)]
            column[METHOD_LABELS[m]] = _cell(seeds.loc[(e, m)], int(rows.refused.sum()), len(rows))
        table[ENSEMBLE_LABELS[e]] = column
    return pd.DataFrame(table).rename_axis(f"{measure.upper()} ({'points' if measure == 'mae' else '%'})")


LINE_COLUMNS = (("acc_slope", "acc. slope"), ("agr_slope", "agr. slope"), ("acc_bias", "acc. bias"),
                ("agr_bias", "agr. bias"), ("line_gap", "agr.–acc. gap"),
                ("identity_gap", "agr.–(y = x) gap"), ("acc_r2", "acc. R²"), ("agr_r2", "agr. R²"))


def lines_table(result: Result) -> pd.DataFrame:
    """Slope, bias and R² of the accuracy and agreement lines per ensemble (probit scale), the
    mean vertical gap of the agreement line to the accuracy line and to y = x, mean over shifts
    within a seed, then mean ± std over seeds; ID accuracy range; ALine refusals."""
    rows = []
    for e in ENSEMBLES:
        lines = result.lines[result.lines.ensemble == e]
        acc = result.models[result.models.ensemble == e].groupby("seed")["acc_id"]
        row = {"ensemble": ENSEMBLE_LABELS[e],
               "ID accuracy (%)": f"{100 * acc.min().mean():.0f}–{100 * acc.max().mean():.0f}"}
        no_line = int(lines.refused.str.contains("aline_s").sum())  # ALine-S refuses without a line
        for col, label in LINE_COLUMNS:
            row[label] = _cell(per_seed(lines, col, ["seed"]), 0 if col.startswith("acc") else no_line,
                               len(lines))
        for m in ("aline_d", "aline_s"):
            row[f"{METHOD_LABELS[m]} refusals"] = f"{int(lines.refused.str.contains(m).sum())}/{len(lines)}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("ensemble")


def text_table(result: Result) -> pd.DataFrame:
    """The language version, one column per ensemble: the agreement line's gaps (probit) to the accuracy line and
    to y = x, ALine-D's MAPE (%, the paper's measure) and every estimator's MAE (points); mean over
    the text shifts within a seed, then mean ± std over seeds."""
    if not result.has_text:
        return pd.DataFrame({"language version": ["not run in this preset (text_models = 0)"]})
    view = result.text_view()
    lines, errors = view.lines, view.errors
    seeds = {k: per_seed(errors, k, ["ensemble", "method", "seed"]) for k in ("mae", "mape")}
    rows = []
    for e in ENSEMBLES:
        part = lines[lines.ensemble == e]
        row = {"ensemble": ENSEMBLE_LABELS[e],
               "agr.–acc. gap": mean_std(per_seed(part, "line_gap", ["seed"]), digits=3),
               "agr.–(y = x) gap": mean_std(per_seed(part, "identity_gap", ["seed"]), digits=3)}
        for k, m in (("mape", "aline_d"), *(("mae", m) for m in METHODS)):
            refused = int(errors[(errors.ensemble == e) & (errors.method == m)].refused.sum())
            cell = _cell(seeds[k].loc[(e, m)], refused, len(part))
            row[f"{METHOD_LABELS[m]} {'MAPE %' if k == 'mape' else 'MAE'}"] = cell
        rows.append({k: re.sub(r" \(n=\d+\)", "", v) for k, v in row.items()})  # n is in the index name
    n = len(result.settings.seeds)
    # one column per ensemble (three narrow columns fit the book's page; ten measures as rows)
    return pd.DataFrame(rows).set_index("ensemble").T.rename_axis(f"mean ± std over {n} seeds")
