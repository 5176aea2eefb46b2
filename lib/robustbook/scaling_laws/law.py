"""The scaling law for data filtering of Goyal et al. (CVPR 2024), as their official code computes it.

Error ``y`` (= 1 - accuracy) after ``n`` samples seen from a pool of ``N`` samples, with
``K = n // N`` full passes and ``k = 0..K`` (pass k covers samples N*k .. N*(k+1)):

    n_k  = a * min(N (k+1), n) / 1e5          n_k^- = a * N k / 1e5
    b_k  = b * 0.5 ** (k / tau)               (utility halves every tau repetitions)
    y    = (n_0 ** b_0 + d) * prod_{k=1..K} (n_k / n_k^-) ** b_k          (paper Eq. 4-5)

Quirk kept from the official code: the irreducible error ``d`` sits *inside* the product, so
every later pass scales it too (the error can fall below ``d`` with enough repetitions).
Because ``a`` cancels in n_k / n_k^-, it only enters through the first pass.

Mixing m buckets (paper Sec. 4, official ``estimate_best_pool``): one shared ``a``; the exponent
of pass k is the *mean* of the buckets' decayed exponents, b_k = mean_i b_i 0.5 ** (k / tau_i);
the pool holds m * (bucket size) samples; and the official best-pool estimate multiplies every
tau_i by m before mixing (``scale_tau=True`` here, the default) -- a second quirk we keep and state.

Every function broadcasts over array-valued ``a``, ``b``, ``tau`` (the fitter evaluates whole
parameter grids at once); ``n`` and the pool size are scalars.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NORMALIZER = 100_000.0  # the official code divides samples by 1e5 before the power law
HALF = 0.5


def passes(n: float, pool_size: float) -> int:
    """K = n // N: the number of *completed* passes over the pool (0 while the pool is fresh)."""
    if not (np.isfinite(n) and np.isfinite(pool_size)) or n <= 0 or pool_size <= 0:
        raise ValueError(f"need finite samples seen n > 0 and pool size N > 0, got n={n}, N={pool_size}")
    return int(n // pool_size)


def check_parameters(a, b, tau, d: float) -> None:
    """The law's domain: a > 0, b < 0 (error falls with data), tau > 0 (inf: no decay), d >= 0,
    all finite except tau. A ``ValueError`` names the first argument outside it (array-valued
    arguments are checked element-wise), instead of NaN or inf results downstream."""
    a, b, tau = (np.asarray(v, dtype=float) for v in (a, b, tau))
    for name, ok in (("a", np.isfinite(a) & (a > 0)), ("b", np.isfinite(b) & (b < 0)),
                     ("tau", ~np.isnan(tau) & (tau > 0)), ("d", np.isfinite(d) and d >= 0)):
        if not np.all(ok):
            raise ValueError(f"scaling law: {name} out of its domain (a > 0, b < 0, tau > 0, d >= 0), "
                             f"got {name}={ {'a': a, 'b': b, 'tau': tau, 'd': d}[name]}")


def _check_pairs(b: Sequence[float], tau: Sequence[float]) -> None:
    if len(b) != len(tau) or len(b) == 0:
        raise ValueError(f"need one tau per b and at least one bucket, got {len(b)} b, {len(tau)} tau")


def pass_samples(n: float, pool_size: float) -> tuple[np.ndarray, np.ndarray]:
    """(s_k, s_k^-) for k = 0..K without the factor a / 1e5: min(N (k+1), n) and N k. Shape (K+1,)."""
    k = np.arange(passes(n, pool_size) + 1, dtype=float)
    return np.minimum(pool_size * (k + 1), n), pool_size * k


def _error_from_exponents(n: float, pool_size: float, a, b_k: np.ndarray, d: float,
                          normalizer: float) -> np.ndarray:
    """y = ((a s_0 / norm) ** b_0 + d) * prod_{k>=1} (s_k / s_k^-) ** b_k, computed in logs.
    ``b_k``: (..., K+1) exponents per pass (leading axes broadcast with ``a``)."""
    s, s_prev = pass_samples(n, pool_size)
    log_ratio = np.log(s[1:] / s_prev[1:])                       # (K,)
    first = (np.asarray(a, dtype=float) * s[0] / normalizer) ** b_k[..., 0] + d
    return first * np.exp((b_k[..., 1:] * log_ratio).sum(axis=-1))


def _decayed(b, tau, k: np.ndarray) -> np.ndarray:
    """b * 0.5 ** (k / tau) with k on a new last axis: (..., K+1)."""
    b, tau = np.asarray(b, dtype=float), np.asarray(tau, dtype=float)
    return b[..., None] * HALF ** (k / tau[..., None])


def utility_error(n: float, pool_size: float, a, b, tau, d: float,
                  normalizer: float = NORMALIZER) -> np.ndarray:
    """Error of one bucket after ``n`` samples seen from a pool of ``pool_size`` (Eq. 4-5 above).

    ``a`` > 0 scales samples, ``b`` < 0 is the bucket's utility (more negative = more useful),
    ``tau`` > 0 its half-life in repetitions, ``d`` the irreducible error. Without repetition
    (n <= N) this is (a n / 1e5) ** b + d.
    """
    check_parameters(a, b, tau, d)
    k = np.arange(passes(n, pool_size) + 1, dtype=float)
    b, tau = np.broadcast_arrays(np.asarray(b, dtype=float), np.asarray(tau, dtype=float))
    return _error_from_exponents(n, pool_size, a, _decayed(b, tau, k), d, normalizer)


def mixture_exponents(b: Sequence[float], tau: Sequence[float], k, scale_tau: bool = True) -> np.ndarray:
    """b_k of a mixture of m buckets: mean_i b_i 0.5 ** (k / (m tau_i)) (no factor m if not
    ``scale_tau``); ``k`` an int or an array of pass indices."""
    b, tau = np.asarray(b, dtype=float), np.asarray(tau, dtype=float)
    m = len(b) if scale_tau else 1
    k = np.atleast_1d(np.asarray(k, dtype=float))
    return (b[:, None] * HALF ** (k[None, :] / (m * tau[:, None]))).mean(axis=0)


def mixture_error(n: float, bucket_size: float, a: float, b: Sequence[float], tau: Sequence[float],
                  d: float, scale_tau: bool = True, normalizer: float = NORMALIZER) -> float:
    """Predicted error of the union of m buckets (``b``, ``tau``: one entry per bucket), trained
    for ``n`` samples seen: pool size m * ``bucket_size``, exponents from ``mixture_exponents``.
    One bucket (m = 1) gives exactly ``utility_error``."""
    _check_pairs(b, tau)
    check_parameters(a, b, tau, d)
    pool = len(b) * bucket_size
    k = np.arange(passes(n, pool) + 1)
    return float(_error_from_exponents(n, pool, a, mixture_exponents(b, tau, k, scale_tau), d, normalizer))


def effective_data_error(n: float, pool_size: float, a, b, tau, d: float,
                         normalizer: float = NORMALIZER) -> np.ndarray:
    """The "effective data" variant (Muennighoff-style, official ``func_effective_data``):
    eff = sum_k (n_k - n_k^-) 0.5 ** (k / tau), y = eff ** b + d. Equals (a n / 1e5) ** b + d
    without repetition."""
    check_parameters(a, b, tau, d)
    s, s_prev = pass_samples(n, pool_size)
    tau = np.asarray(tau, dtype=float)
    eff = sum((s[k] - s_prev[k]) * HALF ** (k / tau) for k in range(len(s)))
    return (np.asarray(a, dtype=float) * eff / normalizer) ** np.asarray(b, dtype=float) + d


def best_first(b: Sequence[float]) -> np.ndarray:
    """Bucket order the official best-pool estimate uses: most negative b (most useful) first."""
    return np.argsort(np.asarray(b, dtype=float), kind="stable")


def pool_errors(n: float, bucket_size: float, a: float, b: Sequence[float], tau: Sequence[float],
                d: float, scale_tau: bool = True, normalizer: float = NORMALIZER) -> np.ndarray:
    """Predicted error of the pools top-1, top-1..2, ..., top-1..M (buckets in the given order).
    Shape (M,)."""
    return np.array([mixture_error(n, bucket_size, a, b[:m], tau[:m], d, scale_tau, normalizer)
                     for m in range(1, len(b) + 1)])


def frontier(budgets: Sequence[float], bucket_size: float, a: float, b: Sequence[float],
             tau: Sequence[float], d: float, scale_tau: bool = True,
             normalizer: float = NORMALIZER) -> tuple[np.ndarray, np.ndarray]:
    """The best-pool frontier (official ``estimate_best_buckets``): buckets sorted best-first by b,
    then for every budget the error of each pool top-1..m. Returns (errors (len(budgets), M),
    best number of buckets per budget (len(budgets),), 1-based)."""
    _check_pairs(b, tau)
    check_parameters(a, b, tau, d)
    order = best_first(b)
    b_sorted, tau_sorted = np.asarray(b, float)[order], np.asarray(tau, float)[order]
    errors = np.stack([pool_errors(n, bucket_size, a, b_sorted, tau_sorted, d, scale_tau, normalizer)
                       for n in budgets])
    return errors, errors.argmin(axis=1) + 1
