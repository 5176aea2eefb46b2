"""Label-free OOD-accuracy baselines that ALine is compared with, and the error measures.

Shapes: K models, N inputs, C classes; ``probs`` are softmax outputs (K, N, C), ``preds`` (K, N).
* naive agreement (Jiang et al., 2022): Acc_OOD,i ~ mean_{j != i} Agr_OOD,ij
* average confidence, AC (Hendrycks & Gimpel, 2017): Acc_OOD,i ~ mean_n max_c p_i(c | x_n)
* difference of confidences, DOC (Guillory et al., 2021): Acc_ID,i - (AC_ID,i - AC_OOD,i)
* average thresholded confidence, ATC (Garg et al., 2022): pick t_i on labelled ID data so that
  the fraction of ID scores above t_i equals Acc_ID,i; predict the fraction of OOD scores above t_i.
"""

from __future__ import annotations

import numpy as np

from robustbook.shift.agreement import as_numpy, pairwise_agreement


def naive_agreement(preds_ood) -> np.ndarray:
    """(K,) mean OOD agreement of each model with the K - 1 others (K >= 2)."""
    agr = pairwise_agreement(preds_ood)
    k = agr.shape[0]
    if k < 2:
        raise ValueError("naive agreement needs at least 2 models")
    return (agr.sum(axis=1) - 1.0) / (k - 1)


def max_confidence(probs) -> np.ndarray:
    """Score per input: max_c p(c | x). (K, N, C) -> (K, N)."""
    return as_numpy(probs).max(axis=-1).astype(np.float64)


def negative_entropy(probs) -> np.ndarray:
    """Score per input: sum_c p log p (<= 0; higher = more confident). (K, N, C) -> (K, N)."""
    p = as_numpy(probs).astype(np.float64)
    return np.sum(p * np.log(np.clip(p, 1e-12, None)), axis=-1)


SCORES = {"max_confidence": max_confidence, "negative_entropy": negative_entropy}


def average_confidence(probs) -> np.ndarray:
    """AC: (K, N, C) -> (K,) mean max-softmax probability."""
    return max_confidence(probs).mean(axis=-1)


def doc(probs_id, probs_ood, acc_id) -> np.ndarray:
    """DOC: Acc_ID - (AC_ID - AC_OOD), per model. ``acc_id``: (K,). Returns (K,)."""
    return as_numpy(acc_id) - (average_confidence(probs_id) - average_confidence(probs_ood))


def atc_threshold(scores_id, acc_id: float) -> float:
    """ATC's threshold for one model: t with mean(scores_id > t) = acc_id, up to 1/N rounding.

    With the ID scores sorted in decreasing order s_(1) >= ... >= s_(N) and k = round(acc_id N)
    inputs to keep above the threshold, t = s_(k+1) (t = -inf when k = N). ``scores_id``: (N,).
    """
    s = np.sort(as_numpy(scores_id).astype(np.float64))[::-1]
    k = int(round(float(acc_id) * len(s)))
    return -np.inf if k >= len(s) else float(s[k])


def atc(probs_id, probs_ood, acc_id, score: str = "negative_entropy") -> np.ndarray:
    """ATC estimate per model (K,). ``score``: "negative_entropy" (ATC-NE, the paper's default)
    or "max_confidence" (ATC-MC). ``acc_id`` (K,) is measured on the same labelled ID data."""
    if score not in SCORES:
        raise ValueError(f"score must be one of {sorted(SCORES)}, got {score!r}")
    s_id, s_ood = SCORES[score](probs_id), SCORES[score](probs_ood)
    thresholds = [atc_threshold(s_id[k], a) for k, a in enumerate(as_numpy(acc_id))]
    return np.array([(s_ood[k] > t).mean() for k, t in enumerate(thresholds)])


def mae(predicted, actual) -> float:
    """Mean absolute error, in the units of the inputs (accuracies in [0, 1])."""
    return float(np.mean(np.abs(as_numpy(predicted) - as_numpy(actual))))


def mape(predicted, actual) -> float:
    """Mean absolute percentage error, in %: 100 * mean |predicted - actual| / actual."""
    actual = as_numpy(actual).astype(np.float64)
    if np.any(actual <= 0):
        raise ValueError("MAPE is undefined when an actual accuracy is 0")
    return float(100 * np.mean(np.abs(as_numpy(predicted) - actual) / actual))
