"""Deterministic fit of the per-bucket scaling-law parameters (a, b, tau) with d fixed.

The official code grid-searches (a, b, tau) with d fixed because scipy's optimisers were unstable
on this loss. We do the same, deterministically and exhaustively: one shared ``a`` (the mixing
rule needs it shared), and for every ``a`` on a log grid the best (b_i, tau_i) of every bucket on
a (b, tau) grid, all evaluated at once with numpy broadcasting. The best grid point is then refined
jointly with bounded Nelder-Mead (kept only if it lowers the loss). Loss: the sum of squared errors
over all (budget, bucket) points, as in the official ``grid_search``; the fit error reported is the
RMSE in error units (fraction of test examples), overall and per bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from robustbook.scaling_laws.law import NORMALIZER, utility_error

NO_DECAY = np.inf  # tau = inf: repetitions never lose utility (the control model)


@dataclass(frozen=True)
class Curve:
    """Measured errors of one bucket trained alone: ``error[j]`` after ``samples_seen[j]``
    samples from a pool of ``pool_size`` samples."""

    samples_seen: tuple[float, ...]
    pool_size: float
    error: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.samples_seen) != len(self.error) or not self.samples_seen:
            raise ValueError("a curve needs one error per budget and at least one budget")


@dataclass(frozen=True)
class LawFit:
    """Fitted parameters (one ``b``/``tau`` per curve, ``a`` and ``d`` shared) and the fit error."""

    a: float
    b: tuple[float, ...]
    tau: tuple[float, ...]
    d: float
    rmse: float                       # over every (curve, budget) point, in error units
    rmse_per_curve: tuple[float, ...]
    at_bound: tuple[str, ...] = ()    # parameters pinned at an edge of their search range

    @property
    def trustworthy(self) -> bool:
        """False when a parameter sits on its search bound: the true optimum may lie outside."""
        return not self.at_bound

    def predict(self, i: int, n: float, pool_size: float) -> float:
        """The fitted law of curve ``i`` at ``n`` samples seen from a pool of ``pool_size``."""
        return float(utility_error(n, pool_size, self.a, self.b[i], self.tau[i], self.d))


def default_grids(curves: list[Curve], decay: bool = True) -> dict[str, np.ndarray]:
    """Grids wide enough for the paper's constants and for CPU toys: a such that a n_min / 1e5
    spans 1e-3..1e6, b in [-1.5, -0.005], tau log-spaced in [0.25, 64] (or tau = inf)."""
    n_min = min(min(c.samples_seen) for c in curves)
    return {"a": np.geomspace(1e-3, 1e6, 28) * NORMALIZER / n_min,
            "b": np.linspace(-1.5, -0.005, 50),
            "tau": np.geomspace(0.25, 64.0, 25) if decay else np.array([NO_DECAY])}


def _sse(curve: Curve, a, b, tau, d: float) -> np.ndarray:
    """Sum over the curve's budgets of (law - measured)^2; broadcasts over a, b, tau."""
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for n, y in zip(curve.samples_seen, curve.error):
            total = total + (utility_error(n, curve.pool_size, a, b, tau, d) - y) ** 2
    return np.where(np.isfinite(total), total, np.inf)


def grid_fit(curves: list[Curve], d: float, grids: dict[str, np.ndarray]) -> tuple[float, list, list]:
    """Exhaustive search: shared a, per-curve (b, tau). Returns (a, [b_i], [tau_i])."""
    a, b, tau = grids["a"][:, None, None], grids["b"][None, :, None], grids["tau"][None, None, :]
    per_curve = [_sse(c, a, b, tau, d).reshape(len(grids["a"]), -1) for c in curves]  # (A, B*T)
    best_a = int(np.argmin(sum(s.min(axis=1) for s in per_curve)))
    picks = [np.unravel_index(int(s[best_a].argmin()), (len(grids["b"]), len(grids["tau"])))
             for s in per_curve]
    return (float(grids["a"][best_a]), [float(grids["b"][i]) for i, _ in picks],
            [float(grids["tau"][j]) for _, j in picks])


def _unpack(x: np.ndarray, m: int, decay: bool) -> tuple[float, np.ndarray, np.ndarray]:
    tau = 10.0 ** x[1 + m:] if decay else np.full(m, NO_DECAY)
    return 10.0 ** x[0], x[1:1 + m], tau


def _loss(curves: list[Curve], d: float, a: float, b, tau) -> float:
    return float(sum(_sse(c, a, bi, ti, d) for c, bi, ti in zip(curves, b, tau)))


def refine(curves: list[Curve], d: float, a: float, b: list, tau: list, grids: dict,
           decay: bool = True) -> tuple[float, list, list]:
    """Bounded Nelder-Mead on (log10 a, b_i, log10 tau_i) from a grid point; deterministic."""
    m = len(curves)
    x0 = np.r_[np.log10(a), b, np.log10(tau) if decay else []]
    bounds = [tuple(np.log10(grids["a"][[0, -1]]))] + [tuple(grids["b"][[0, -1]])] * m
    if decay:
        bounds += [tuple(np.log10(grids["tau"][[0, -1]]))] * m
    res = minimize(lambda x: _loss(curves, d, *_unpack(x, m, decay)), x0, method="Nelder-Mead",
                   bounds=bounds, options={"maxiter": 150 * len(x0), "xatol": 1e-6, "fatol": 1e-12})
    if res.fun < _loss(curves, d, a, b, tau):
        a, b_new, tau_new = _unpack(res.x, m, decay)
        return float(a), [float(v) for v in b_new], [float(v) for v in tau_new]
    return a, b, tau


def pinned_at_bound(a: float, b: list, tau: list, grids: dict[str, np.ndarray], decay: bool) -> tuple[str, ...]:
    """Names ("a", "b[1]", "tau[0]", ...) of fitted values on an edge of their grid (relative
    tolerance 1e-6): the search range, not the data, decided them."""
    def edge(value: float, grid: np.ndarray) -> bool:
        return any(np.isclose(value, g, rtol=1e-6, atol=0) for g in (grid[0], grid[-1]))

    names = ["a"] if edge(a, grids["a"]) else []
    names += [f"b[{i}]" for i, v in enumerate(b) if edge(v, grids["b"])]
    if decay:
        names += [f"tau[{i}]" for i, v in enumerate(tau) if edge(v, grids["tau"])]
    return tuple(names)


def fit_law(curves: list[Curve], d: float, grids: dict[str, np.ndarray] | None = None,
            decay: bool = True, refine_fit: bool = True) -> LawFit:
    """Fit a shared a and one (b, tau) per curve, d fixed; ``decay=False`` fixes tau = inf (no
    loss of utility with repetition: the control model). Deterministic for given inputs.
    ``LawFit.at_bound`` lists parameters that ended on an edge of their search range."""
    if not curves:
        raise ValueError("fit_law needs at least one curve")
    if not (np.isfinite(d) and d >= 0):
        raise ValueError(f"fit_law: the irreducible error d must be finite and >= 0, got {d}")
    grids = grids or default_grids(curves, decay)
    a, b, tau = grid_fit(curves, d, grids)
    if refine_fit:
        a, b, tau = refine(curves, d, a, b, tau, grids, decay)
    per_curve = [np.sqrt(_sse(c, a, bi, ti, d) / len(c.error)) for c, bi, ti in zip(curves, b, tau)]
    n_points = sum(len(c.error) for c in curves)
    rmse = float(np.sqrt(_loss(curves, d, a, b, tau) / n_points))
    return LawFit(a=a, b=tuple(b), tau=tuple(tau), d=d, rmse=rmse,
                  rmse_per_curve=tuple(float(r) for r in per_curve),
                  at_bound=pinned_at_bound(a, b, tau, grids, decay))
