"""The OOD-accuracy estimator battery over one ensemble: ALine-S / ALine-D and the label-free
baselines from the same predictions, plus the label-using truth they are judged against.

Input: an ensemble's logits on labelled ID data (K, N, C) and on one unlabelled shift (K, M, C).
:func:`estimate_ood_accuracy` needs no OOD labels; :func:`evaluate_shift` adds them to get each
model's true OOD accuracy, the accuracy line, and every method's error. When ALine's pair filter
leaves too few equations, ALine *refuses*: its estimates are ``None`` and ``refusals`` says why
(never replaced by a guess); :func:`ShiftEvaluation.errors` then gives NaN for it, and callers
count refusals instead of averaging over them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from robustbook.shift.agreement import (
    AGREEMENT_RANGE,
    LineFit,
    accuracy,
    accuracy_line,
    agreement_line,
    aline_d,
    aline_s,
    as_numpy,
    pairwise_agreement,
    probit,
    usable_pairs,
)
from robustbook.shift.baselines import atc, average_confidence, doc, mae, mape, naive_agreement

METHODS = ("aline_d", "aline_s", "naive", "atc", "ac", "doc")
ALINE_METHODS = ("aline_d", "aline_s")
BASELINES = ("naive", "atc", "ac", "doc")
CONFIDENCE_BASELINES = ("atc", "ac", "doc")
METHOD_LABELS = {"aline_d": "ALine-D", "aline_s": "ALine-S", "naive": "naive agreement",
                 "atc": "ATC", "ac": "AC", "doc": "DOC"}


@dataclass(frozen=True)
class Estimates:
    """Label-free estimates of one ensemble on one shift. ``by_method[m]``: (K,) OOD accuracies,
    or None where the method refused; ``refusals[m]`` says why (only refused methods appear).
    ALine-S refuses when fewer than two pairs are usable (no agreement line); ALine-D also when
    the usable pairs leave a model undetermined."""

    acc_id: np.ndarray                  # (K,) ID accuracy (ID labels are allowed)
    agr_id: np.ndarray                  # (K, K) ID agreement
    agr_ood: np.ndarray                 # (K, K) OOD agreement (no labels needed)
    by_method: dict[str, np.ndarray | None]
    agr_line: LineFit | None            # the agreement line (None when it cannot be fitted)
    refusals: dict[str, str]


def _or_refusal(estimator, *args) -> tuple[np.ndarray | None, str]:
    try:
        return estimator(*args), ""
    except ValueError as refusal:  # recorded and reported, never replaced by a guess
        return None, str(refusal)


def estimate_ood_accuracy(logits_id, y_id, logits_ood, agreement_range=AGREEMENT_RANGE) -> Estimates:
    """Every method of ``METHODS`` from ID logits (K, N, C) with labels y_id (N,) and unlabelled
    OOD logits (K, M, C). ATC uses the negative-entropy score (ATC-NE)."""
    logits_id, logits_ood = _tensor(logits_id), _tensor(logits_ood)
    p_id, p_ood = logits_id.softmax(-1), logits_ood.softmax(-1)
    pred_id, pred_ood = logits_id.argmax(-1), logits_ood.argmax(-1)
    acc_id = accuracy(pred_id, y_id)
    agr_id, agr_ood = pairwise_agreement(pred_id), pairwise_agreement(pred_ood)
    out: dict[str, np.ndarray | None] = {
        "naive": naive_agreement(pred_ood), "atc": atc(p_id, p_ood, acc_id),
        "ac": average_confidence(p_ood), "doc": doc(p_id, p_ood, acc_id)}
    refusals = {}
    for name, estimator in (("aline_d", aline_d), ("aline_s", aline_s)):
        out[name], why = _or_refusal(estimator, acc_id, agr_id, agr_ood, agreement_range)
        if why:
            refusals[name] = why
    line, _ = _or_refusal(agreement_line, agr_id, agr_ood, agreement_range)
    return Estimates(acc_id, agr_id, agr_ood, {m: out[m] for m in METHODS}, line, refusals)


@dataclass(frozen=True)
class ShiftEvaluation:
    """``estimates`` of one ensemble on one shift with the truth: each model's OOD accuracy and
    the (label-using) accuracy line (None when all ID accuracies are equal)."""

    estimates: Estimates
    acc_ood: np.ndarray                 # (K,)
    acc_line: LineFit | None
    n_usable_pairs: int

    @property
    def refused(self) -> bool:
        """Whether any method (ALine-D or ALine-S) refused."""
        return bool(self.estimates.refusals)

    def errors(self) -> dict[str, tuple[float, float]]:
        """{method: (MAE in accuracy points, MAPE in %)} over the K models; (NaN, NaN) for a
        method that refused; MAPE is NaN when a model's true OOD accuracy is 0 (undefined)."""
        out = {}
        defined = bool(np.all(self.acc_ood > 0))
        for m, est in self.estimates.by_method.items():
            out[m] = ((np.nan, np.nan) if est is None else
                      (100 * mae(est, self.acc_ood), mape(est, self.acc_ood) if defined else np.nan))
        return out

    def line_gap(self) -> float:
        """Mean vertical distance (probit units) between the agreement and the accuracy line,
        over the models' probit ID accuracies (the x-range ALine uses); NaN without both lines."""
        return lines_gap(self.estimates.agr_line, self.acc_line, probit(self.estimates.acc_id))

    def identity_gap(self) -> float:
        """Mean vertical distance (probit units) between the agreement line and y = x over the
        same points; NaN without an agreement line."""
        return lines_gap(self.estimates.agr_line, LineFit(1.0, 0.0, 1.0), probit(self.estimates.acc_id))


def evaluate_shift(logits_id, y_id, logits_ood, y_ood, agreement_range=AGREEMENT_RANGE) -> ShiftEvaluation:
    """:func:`estimate_ood_accuracy` plus the true OOD accuracies (y_ood (M,)) and accuracy line."""
    est = estimate_ood_accuracy(logits_id, y_id, logits_ood, agreement_range)
    acc_ood = accuracy(_tensor(logits_ood).argmax(-1), y_ood)
    acc_line = None if np.ptp(probit(est.acc_id)) == 0 else accuracy_line(est.acc_id, acc_ood)
    n_usable = len(usable_pairs(est.agr_id, est.agr_ood, agreement_range)[0])
    return ShiftEvaluation(est, acc_ood, acc_line, n_usable)


def lines_gap(a: LineFit | None, b: LineFit | None, x) -> float:
    """mean_i |a(x_i) - b(x_i)| for the points x (M,); NaN when either line is missing."""
    if a is None or b is None:
        return float("nan")
    x = as_numpy(x).astype(np.float64)
    return float(np.mean(np.abs(a(x) - b(x))))


def _tensor(values) -> torch.Tensor:
    return values if isinstance(values, torch.Tensor) else torch.as_tensor(values)
