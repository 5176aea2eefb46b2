"""The book layer: chapter results and claims, the papermill runner, plot theme, widgets."""

from robustbook.book.plotting import set_theme
from robustbook.book.results import ChapterRun, Claim, claims_table, judge, mean_std, write_json_atomic

__all__ = ["ChapterRun", "Claim", "claims_table", "judge", "mean_std", "set_theme",
           "write_json_atomic"]
