"""Chapter 09's tables from a ``Result``: line strength, accuracies, estimation errors and the
label-free learning-rate choice, per shift and TTA method (mean ± std over seeds)."""

from __future__ import annotations

import pandas as pd

from robustbook.book.results import mean_std
from robustbook.chapters.tta_lines.result import Result
from robustbook.tta import METHOD_LABELS


def _order(result: Result) -> list[str]:
    return [METHOD_LABELS[m] for m in ("plain", *result.settings.methods)]


def _pivot(frame: pd.DataFrame, column: str, result: Result, scale: float = 1.0, digits: int = 3) -> pd.DataFrame:
    cells = frame.groupby(["shift", "method"])[column].agg(lambda v: mean_std(scale * v, digits=digits))
    table = cells.unstack("method").rename(columns=METHOD_LABELS)
    return table[_order(result)]


def r2_table(result: Result, line: str = "acc") -> pd.DataFrame:
    """R² of the probit accuracy (``line`` "acc") or agreement ("agr") line per shift and method."""
    return _pivot(result.lines, f"{line}_r2", result).rename_axis(f"R² of the {'accuracy' if line == 'acc' else 'agreement'} line")


def accuracy_table(result: Result, split: str = "ood") -> pd.DataFrame:
    """The zoo's mean ID or OOD accuracy (%) per shift and method (ID: measured with the adapted
    parameters and ID batch statistics)."""
    return _pivot(result.lines, f"mean_acc_{split}", result, 100, 1).rename_axis(f"mean {split.upper()} accuracy (%)")


def estimation_table(result: Result, estimator: str = "aline_s") -> pd.DataFrame:
    """MAE (points) of one label-free estimator of OOD accuracy per shift and method; refusals count."""
    e = result.errors[result.errors.estimator == estimator]
    table = _pivot(e, "mae", result, 1, 2)
    refused = e.groupby(["shift", "method"])["refused"].sum().unstack("method").rename(columns=METHOD_LABELS)
    for col in table.columns:
        for shift in table.index:
            if refused.loc[shift, col]:
                table.loc[shift, col] = f"refused on {int(refused.loc[shift, col])} seed(s)"
    return table.rename_axis(f"MAE of {estimator} (points)")


def selection_table(result: Result) -> pd.DataFrame:
    """Per selection shift and seed: TENT's learning rate chosen with OOD labels, by ALine-S, by
    ALine-D and by average confidence, and the true accuracy each choice loses (points)."""
    rows = []
    for (seed, shift), d in result.selection.groupby(["seed", "shift"]):
        row = {"seed": seed, "shift": shift, "best lr (labels)": d.loc[d["true"].idxmax(), "lr"]}
        for col, label in (("est_aline_s", "ALine-S"), ("est_aline_d", "ALine-D"), ("est_ac", "avg. confidence")):
            if d[col].isna().any():  # the estimator refused at some learning rate: no choice
                row[f"{label} lr"], row[f"{label} regret"] = "refused", float("nan")
                continue
            pick = d.loc[d[col].idxmax()]
            row[f"{label} lr"] = pick["lr"]
            row[f"{label} regret"] = round(100 * (d["true"].max() - pick["true"]), 2)
        rows.append(row)
    return pd.DataFrame(rows).set_index(["shift", "seed"]).sort_index()


def r2_by_seed(result: Result) -> pd.DataFrame:
    """The closing note's numbers: accuracy and agreement R² per shift and seed, plain vs. TENT."""
    lines = result.lines[result.lines.method.isin(["plain", "tent"])]
    table = lines.pivot_table(index=["shift", "seed"], columns="method", values=["acc_r2", "agr_r2"])
    table.columns = [f"{'acc.' if c == 'acc_r2' else 'agr.'} R² {METHOD_LABELS[m]}" for c, m in table.columns]
    return table.round(3)
