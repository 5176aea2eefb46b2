"""Small helpers for figures of accuracy and agreement lines: probit axes labelled in % (the tick
at Phi^-1(p) reads p), and rows of a long results table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from robustbook.shift.agreement import probit


def rows(frame: pd.DataFrame, **where) -> pd.DataFrame:
    """The rows of ``frame`` whose columns equal every ``column=value`` given."""
    mask = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        mask &= (frame[column] == value).to_numpy()
    return frame[mask]


def probit_axes(ax, lo: float, hi: float, ticks: np.ndarray) -> None:
    """Both axes of ``ax`` on the probit scale from accuracy ``lo`` to ``hi``, ticked at the
    ``ticks`` (accuracies in (0, 1)) that fall inside, labelled in %."""
    shown = ticks[(ticks >= lo) & (ticks <= hi)]
    for set_ticks in (ax.set_xticks, ax.set_yticks):
        set_ticks(probit(shown), [f"{100 * t:g}" for t in shown])
    ax.set_xlim(probit(lo), probit(hi))
    ax.set_ylim(probit(lo), probit(hi))
