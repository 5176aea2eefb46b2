"""Scaling laws for data filtering (Goyal et al., CVPR 2024): the law with repetition decay, the
mixing rule and best-pool frontier (``law``), a deterministic fitter (``fit``), and training for a
budget of samples seen (``budget``)."""

from robustbook.scaling_laws.budget import (
    budget_batches,
    linear_errors,
    sample_stream,
    train_linear_runs,
)
from robustbook.scaling_laws.fit import Curve, LawFit, fit_law
from robustbook.scaling_laws.law import (
    best_first,
    effective_data_error,
    frontier,
    mixture_error,
    mixture_exponents,
    passes,
    pool_errors,
    utility_error,
)

__all__ = ["Curve", "LawFit", "best_first", "budget_batches", "effective_data_error",
           "fit_law", "frontier", "linear_errors", "mixture_error", "mixture_exponents", "passes",
           "pool_errors", "sample_stream", "train_linear_runs", "utility_error"]
