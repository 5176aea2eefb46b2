"""Accuracy, agreement and the probit lines they lie on; ALine-S and ALine-D.

Notation (Baek et al., 2022, "Agreement-on-the-line", arXiv 2206.13089; Saxena et al., 2024):
K models, N inputs, predictions ``preds`` of shape (K, N) (class indices). Phi is the standard
normal CDF and Phi^-1 the probit.

* Accuracy-on-the-line:   Phi^-1(Acc_OOD,i)  ~ a * Phi^-1(Acc_ID,i)  + b      over models i
* Agreement-on-the-line:  Phi^-1(Agr_OOD,ij) ~ a * Phi^-1(Agr_ID,ij) + b      over pairs i < j
  with the *same* (a, b) when AGL holds; agreement needs no labels, so (a, b) can be fitted on
  unlabelled OOD data and used to predict OOD accuracy (ALine-S, ALine-D below).

Everything here takes array-likes (numpy or torch, any device) and returns numpy float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

PROBIT_EPS = 1e-4              # probit clipping: Phi^-1 of 0 or 1 is infinite
AGREEMENT_RANGE = (0.05, 0.98)  # pairs with ID or OOD agreement outside are not used (as in 2022)


def as_numpy(values) -> np.ndarray:
    """numpy view of a numpy array, list or torch tensor (detached, moved to the CPU)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def accuracy(preds, labels) -> np.ndarray:
    """Per-model accuracy: ``preds`` (K, N) or (N,) class indices, ``labels`` (N,) -> (K,) or ()."""
    preds, labels = as_numpy(preds), as_numpy(labels)
    return (preds == labels).mean(axis=-1).astype(np.float64)


def pairwise_agreement(preds) -> np.ndarray:
    """(K, K) matrix of agreement rates, Agr_ij = mean_n [preds[i, n] == preds[j, n]].

    Vectorised without a (K, K, N) tensor: for each class c, M_c = 1[preds == c] (K, N) and
    Agr = sum_c M_c M_c^T / N, so memory is O(K N) for any number of classes. Diagonal is 1.
    """
    preds = as_numpy(preds)
    if preds.ndim != 2:
        raise ValueError(f"preds must be (K models, N inputs), got shape {preds.shape}")
    counts = np.zeros((preds.shape[0], preds.shape[0]))
    for c in np.unique(preds):
        m = (preds == c).astype(np.float64)
        counts += m @ m.T
    return counts / preds.shape[1]


def probit(p, eps: float = PROBIT_EPS) -> np.ndarray:
    """Phi^-1(p) with p clipped to [eps, 1 - eps] (finite for accuracies of exactly 0 or 1)."""
    return norm.ppf(np.clip(as_numpy(p).astype(np.float64), eps, 1 - eps))


def inverse_probit(z) -> np.ndarray:
    """Phi(z), the standard normal CDF: back from probit space to a rate in [0, 1]."""
    return norm.cdf(as_numpy(z).astype(np.float64))


@dataclass(frozen=True)
class LineFit:
    """y ~ slope * x + bias by ordinary least squares; ``r2`` is the coefficient of determination."""

    slope: float
    bias: float
    r2: float

    def __call__(self, x) -> np.ndarray:
        return self.slope * as_numpy(x) + self.bias


def fit_line(x, y) -> LineFit:
    """OLS fit of y (M,) on x (M,), M >= 2 with x not constant. R^2 = 1 - SS_res / SS_tot
    (1.0 when y is constant and fitted exactly)."""
    x, y = as_numpy(x).astype(np.float64).ravel(), as_numpy(y).astype(np.float64).ravel()
    if len(x) < 2 or len(x) != len(y):
        raise ValueError(f"a line needs >= 2 points of (x, y), got {len(x)} and {len(y)}")
    if np.ptp(x) == 0:
        raise ValueError("cannot fit a line: all x values are equal")
    slope, bias = np.polyfit(x, y, 1)
    ss_res = float(np.sum((y - (slope * x + bias)) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float(ss_res == 0)
    return LineFit(float(slope), float(bias), r2)


def accuracy_line(acc_id, acc_ood, eps: float = PROBIT_EPS) -> LineFit:
    """The accuracy line in probit space (needs OOD labels; used to *check* the estimates)."""
    return fit_line(probit(acc_id, eps), probit(acc_ood, eps))


def _pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(k, 1)


def usable_pairs(agr_id, agr_ood, agreement_range=AGREEMENT_RANGE) -> tuple[np.ndarray, np.ndarray]:
    """Pairs i < j whose ID *and* OOD agreement lie in ``agreement_range`` (inclusive).
    Returns index arrays (i, j) of length M."""
    agr_id, agr_ood = as_numpy(agr_id), as_numpy(agr_ood)
    lo, hi = agreement_range
    i, j = _pairs(agr_id.shape[0])
    keep = (agr_id[i, j] >= lo) & (agr_id[i, j] <= hi) & (agr_ood[i, j] >= lo) & (agr_ood[i, j] <= hi)
    return i[keep], j[keep]


def agreement_line(agr_id, agr_ood, agreement_range=AGREEMENT_RANGE, eps: float = PROBIT_EPS) -> LineFit:
    """The agreement line: probit OOD agreement on probit ID agreement over the usable pairs.
    ``agr_id``, ``agr_ood``: (K, K) from :func:`pairwise_agreement`. Needs no labels."""
    i, j = usable_pairs(agr_id, agr_ood, agreement_range)
    if len(i) < 2:
        raise ValueError(f"only {len(i)} model pair(s) have ID and OOD agreement in "
                         f"{list(agreement_range)}: cannot fit the agreement line")
    return fit_line(probit(as_numpy(agr_id)[i, j], eps), probit(as_numpy(agr_ood)[i, j], eps))


def aline_s(acc_id, agr_id, agr_ood, agreement_range=AGREEMENT_RANGE,
            eps: float = PROBIT_EPS) -> np.ndarray:
    """ALine-S: Acc_OOD,i = Phi(a * Phi^-1(Acc_ID,i) + b) with (a, b) the agreement line.

    (Baek et al. 2022, Alg. 1.) The result is mapped back through Phi, i.e. it is an accuracy in
    [0, 1], not a probit value. ``acc_id``: (K,); ``agr_id``, ``agr_ood``: (K, K). Returns (K,).
    """
    line = agreement_line(agr_id, agr_ood, agreement_range, eps)
    return inverse_probit(line(probit(acc_id, eps)))


def _refuse_if_undetermined(design: np.ndarray, k: int) -> None:
    per_model = (design > 0).sum(axis=0)
    lonely = [int(m) for m in np.flatnonzero(per_model == 0)]
    if lonely:
        raise ValueError(
            f"ALine-D cannot estimate model(s) {lonely}: no pair with them has ID and OOD agreement "
            f"inside the usable range, so no equation involves them (widen agreement_range or "
            f"drop these models); refusing rather than guessing their OOD accuracy")
    if np.linalg.matrix_rank(design) < k:
        raise ValueError(
            "ALine-D's usable pairs do not determine every model's OOD accuracy (the graph of "
            "usable pairs needs an odd cycle in every connected part); add models or widen "
            "agreement_range")


def aline_d(acc_id, agr_id, agr_ood, agreement_range=AGREEMENT_RANGE,
            eps: float = PROBIT_EPS) -> np.ndarray:
    """ALine-D (Baek et al. 2022, Alg. 1): for every usable pair i < j,

        1/2 (z_i + z_j) = Phi^-1(Agr_OOD,ij) + a * (1/2 Phi^-1(Acc_ID,i) + 1/2 Phi^-1(Acc_ID,j)
                                                  - Phi^-1(Agr_ID,ij)),

    with a the agreement-line slope; the unknowns z = Phi^-1(Acc_OOD) (K,) are solved by least
    squares over the M usable pairs and returned as Phi(z) (K,). Exact when accuracies and
    agreements lie on one line. Raises ValueError naming any model left without an equation.
    """
    acc_id, agr_id, agr_ood = as_numpy(acc_id), as_numpy(agr_id), as_numpy(agr_ood)
    k = len(acc_id)
    i, j = usable_pairs(agr_id, agr_ood, agreement_range)
    design = np.zeros((len(i), k))                          # (M, K), rows 1/2 (e_i + e_j)
    design[np.arange(len(i)), i] = 0.5
    design[np.arange(len(i)), j] = 0.5
    _refuse_if_undetermined(design, k)
    slope = agreement_line(agr_id, agr_ood, agreement_range, eps).slope
    z_id = probit(acc_id, eps)
    target = probit(agr_ood[i, j], eps) + slope * (0.5 * z_id[i] + 0.5 * z_id[j]
                                                   - probit(agr_id[i, j], eps))
    z_ood, *_ = np.linalg.lstsq(design, target, rcond=None)
    return inverse_probit(z_ood)


def off_diagonal(matrix) -> np.ndarray:
    """The upper-triangle entries (i < j) of a (K, K) matrix as a flat (K(K-1)/2,) array."""
    matrix = as_numpy(matrix)
    return matrix[_pairs(matrix.shape[0])]
