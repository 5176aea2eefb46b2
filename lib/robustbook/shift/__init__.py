"""Distribution shift: accuracy and agreement lines, ALine-S / ALine-D, label-free baselines
(naive agreement, AC, DOC, ATC), error measures, the whole estimator battery over one ensemble
(``estimate``), and common corruptions for building shifts."""

from robustbook.shift.agreement import (
    AGREEMENT_RANGE,
    LineFit,
    accuracy,
    accuracy_line,
    agreement_line,
    aline_d,
    aline_s,
    fit_line,
    inverse_probit,
    off_diagonal,
    pairwise_agreement,
    probit,
    usable_pairs,
)
from robustbook.shift.baselines import (
    atc,
    atc_threshold,
    average_confidence,
    doc,
    mae,
    mape,
    max_confidence,
    naive_agreement,
    negative_entropy,
)
from robustbook.shift.estimate import (
    ALINE_METHODS,
    BASELINES,
    CONFIDENCE_BASELINES,
    METHOD_LABELS,
    METHODS,
    Estimates,
    ShiftEvaluation,
    estimate_ood_accuracy,
    evaluate_shift,
    lines_gap,
)

__all__ = ["AGREEMENT_RANGE", "ALINE_METHODS", "BASELINES", "CONFIDENCE_BASELINES", "METHODS",
           "METHOD_LABELS", "Estimates", "LineFit", "ShiftEvaluation", "estimate_ood_accuracy",
           "evaluate_shift", "lines_gap", "accuracy", "accuracy_line", "agreement_line", "aline_d",
           "aline_s", "atc", "atc_threshold", "average_confidence", "doc", "fit_line",
           "inverse_probit", "mae", "mape", "max_confidence", "naive_agreement",
           "negative_entropy", "off_diagonal", "pairwise_agreement", "probit", "usable_pairs"]
