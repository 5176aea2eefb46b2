"""The book layer: the chapter kit (config, start/finish, claims), results records, plot theme,
widgets. It never imports the chapters; the runner that executes them is ``robustbook.runner``."""

from robustbook.book.chapter import ChapterResult, RunContext, derive_seed, finish, generator, start
from robustbook.book.claims import (
           Claim,
           Expect,
           check,
           claims_table,
           finding,
           headline,
           preregistration_table,
)
from robustbook.book.config import ChapterConfig, CommonSettings, parameters_cell
from robustbook.book.plotting import set_theme
from robustbook.book.results import ChapterRun, mean_std, write_json_atomic

__all__ = ["ChapterConfig", "ChapterResult", "ChapterRun", "Claim", "CommonSettings", "Expect",
           "RunContext", "check", "claims_table", "derive_seed", "finding", "finish", "generator",
           "headline", "mean_std", "parameters_cell", "preregistration_table", "set_theme", "start",
           "write_json_atomic"]
