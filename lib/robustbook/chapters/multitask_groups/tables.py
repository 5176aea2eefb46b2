"""Chapter 08's tables: per-method worst-group and average accuracy, per-group accuracy."""

from __future__ import annotations

import pandas as pd

from robustbook.book.results import mean_std
from robustbook.chapters.multitask_groups.claims import PAPER
from robustbook.chapters.multitask_groups.experiments import GROUP_NAMES, METHOD_LABELS, METHODS
from robustbook.chapters.multitask_groups.result import Result


def _task(result: Result, task: str) -> pd.DataFrame:
    return result.methods[result.methods["task"] == task]


def method_table(result: Result, task: str = "main") -> pd.DataFrame:
    """Worst-group and average test accuracy (%) per method, mean ± std over seeds, with the
    selected epoch and the paper's CivilComments number for comparison."""
    frame, rows = _task(result, task), []
    for m in METHODS:
        g = frame[frame["method"] == m]
        rows.append({"method": METHOD_LABELS[m], "worst-group acc. (%)": mean_std(g["test_worst"], 100),
                     "average acc. (%)": mean_std(g["test_avg"], 100),
                     "worst-group val. acc. (%)": mean_std(g["val_worst"], 100),
                     "selected epoch": f"{g['epoch'].mean():.1f}",
                     "paper, CivilComments (worst-group %)": PAPER[m]})
    return pd.DataFrame(rows).set_index("method")


def group_table(result: Result, task: str = "main") -> pd.DataFrame:
    """Test accuracy (%) in each (label, attribute) group per method, mean ± std over seeds."""
    frame = _task(result, task)
    table = {METHOD_LABELS[m]: {name: mean_std(frame[frame["method"] == m][f"group_{i}"], 100)
                                for i, name in enumerate(GROUP_NAMES)} for m in METHODS}
    return pd.DataFrame(table).T.rename_axis(f"test accuracy per group (%), {task} task")


def seed_table(result: Result, task: str = "main") -> pd.DataFrame:
    """Worst-group test accuracy (%) per seed (rows) and method (columns)."""
    frame = _task(result, task).pivot(index="seed", columns="method", values="test_worst") * 100
    return frame[list(METHODS)].rename(columns=METHOD_LABELS).round(1)


def counts_table(result: Result) -> pd.DataFrame:
    """Examples per group and split (first reported seed)."""
    rows = {(task, split): dict(zip(GROUP_NAMES, n)) for task, c in result.group_counts.items()
            for split, n in c.items()}
    return pd.DataFrame(rows).T.rename_axis(["task", "split"])
