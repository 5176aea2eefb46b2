"""Parts 2-3: train on a synthetic web-like pool at several budgets, fit the law per bucket, and
predict the unions without training on them.

Runs: for every seed, the filtered pools top-1, top-1..2, ..., top-1..M (``run = "top-m"``) and
every lower bucket alone (``run = "bucket i"``; bucket 1 alone *is* top-1), each trained from
scratch at every budget (samples seen) with its own cosine schedule. Model: linear softmax
regression (the Bayes classifier of the mixture is linear, so the Bayes error is reachable).
Randomness inside a reported seed: the pool from ``derive_seed(seed, "pool")``, initial weights
and data orders from ``derive_seed(seed, "sgd")`` -- the same for every run of the seed, so pools
are compared on paired runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from robustbook.book.chapter import derive_seed
from robustbook.chapters.data_filtering_scaling.config import Settings
from robustbook.data.quality_pools import QualityPool, gaussian_quality_pool
from robustbook.scaling_laws import Curve, LawFit, fit_law, linear_errors, pool_errors, train_linear_runs

SEPARATION = 4.5  # distance scale of the class means (Bayes error ~9% at dim 32)


def make_pool(s: Settings, seed: int) -> QualityPool:
    """The seed's synthetic web pool: Gaussian mixture, one label-noise rate per bucket."""
    return gaussian_quality_pool(bucket_size=s.bucket_size, noise_rates=s.label_noise, dim=s.dim,
                                 separation=SEPARATION, seed=derive_seed(seed, "pool"))


def _runs(pool: QualityPool) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    runs = {f"top-{m}": pool.top(m) for m in range(1, pool.n_buckets + 1)}
    runs.update({f"bucket {i + 1}": pool.buckets([i]) for i in range(1, pool.n_buckets)})
    return runs


def _describe(seed: int, run: str, size: int) -> dict:
    m = int(run.split("-")[1]) if run.startswith("top") else 0
    bucket = 1 if run == "top-1" else (int(run.split()[1]) if m == 0 else 0)
    return {"seed": seed, "run": run, "m": m, "bucket": bucket, "pool_size": size}


def sweep(s: Settings, device: torch.device | str = "cpu") -> tuple[pd.DataFrame, dict[int, float]]:
    """Every run x budget x seed, all runs of a budget trained at once (``train_linear_runs``).
    Returns (long table with columns seed, run, m (pool width; 0 for a lone lower bucket), bucket
    (1-based; 0 for unions of several), pool_size, budget, passes, error; Bayes error per seed)."""
    pools = {seed: make_pool(s, seed) for seed in s.seeds}
    runs = [(seed, name, xy) for seed, pool in pools.items() for name, xy in _runs(pool).items()]
    n_classes = int(pools[s.seed].y_test.max()) + 1
    rows = []
    for n in s.budgets:
        w, b = train_linear_runs([xy[0] for _, _, xy in runs], [xy[1] for _, _, xy in runs],
                                 samples_seen=n, batch_size=s.batch_size, lr=s.lr, n_classes=n_classes,
                                 seeds=[derive_seed(seed, "sgd") for seed, _, _ in runs],
                                 weight_decay=s.weight_decay, device=device)
        errors = linear_errors(w, b, [pools[seed].x_test for seed, _, _ in runs],
                               [pools[seed].y_test for seed, _, _ in runs])
        rows += [{**_describe(seed, name, len(xy[0])), "budget": n, "passes": n / len(xy[0]), "error": e}
                 for (seed, name, xy), e in zip(runs, errors)]
    return pd.DataFrame(rows), {seed: pool.bayes_error for seed, pool in pools.items()}


def pool_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Errors of the filtered pools only: index (seed, budget), columns m = 1..M."""
    return runs[runs["m"] > 0].pivot_table(index=["seed", "budget"], columns="m", values="error")


def best_pools(runs: pd.DataFrame) -> pd.DataFrame:
    """Best pool width m per budget: one column per seed and ``mean`` (argmin of the seed-mean
    error). Ties go to the narrower pool."""
    table = pool_table(runs)
    per_seed = table.idxmin(axis=1).unstack("seed")
    per_seed["mean"] = table.groupby("budget").mean().idxmin(axis=1)
    return per_seed.astype(int)


def bucket_curves(runs: pd.DataFrame, seed: int | None = None) -> list[Curve]:
    """One curve per bucket trained alone (bucket 1 = top-1), on one seed or the seed mean."""
    alone = runs[runs["bucket"] > 0]
    if seed is not None:
        alone = alone[alone["seed"] == seed]
    curves = []
    for _, g in alone.groupby("bucket"):
        mean = g.groupby("budget")["error"].mean()
        curves.append(Curve(tuple(float(n) for n in mean.index), float(g["pool_size"].iloc[0]),
                            tuple(float(e) for e in mean.values)))
    return curves


def fit_buckets(runs: pd.DataFrame, bayes: dict[int, float]) -> dict[str, LawFit]:
    """The law fitted (d = the Bayes error) to the seed-mean bucket curves (``"mean"``) and to each
    seed's curves (``"seed N"``), each with its no-decay control (tau = inf: ``"no_decay"``,
    ``"no_decay seed N"``)."""
    fits = {}
    for key, seed, d in [("", None, float(np.mean(list(bayes.values()))))] + [
            (f"seed {seed}", seed, d) for seed, d in bayes.items()]:
        curves = bucket_curves(runs, seed)
        fits[key or "mean"] = fit_law(curves, d=d)
        fits[f"no_decay {key}".strip()] = fit_law(curves, d=d, decay=False)
    return fits


def predict_pools(fit: LawFit, budgets, bucket_size: int, scale_tau: bool = True) -> pd.DataFrame:
    """Predicted error of top-1..M at every budget from the per-bucket fit (mixing rule), buckets
    in quality order. Index budget, columns m."""
    rows = {n: pool_errors(n, bucket_size, fit.a, fit.b, fit.tau, fit.d, scale_tau) for n in budgets}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=range(1, len(fit.b) + 1))
    return frame.rename_axis(index="budget", columns="m")


def _members_mean(alone: pd.DataFrame) -> pd.DataFrame:
    """Baseline without a law: a union's error = the mean of its buckets' own errors at the same
    samples seen. ``alone``: index budget, columns bucket 1..M -> index budget, columns m."""
    return pd.DataFrame({m: alone.iloc[:, :m].mean(axis=1) for m in range(1, alone.shape[1] + 1)})


def _prediction_rows(measured: pd.DataFrame, alone: pd.DataFrame, fit: LawFit, s: Settings,
                     label: str) -> pd.DataFrame:
    predicted = predict_pools(fit, s.budgets, s.bucket_size, s.scale_tau)
    out = pd.DataFrame({"measured": measured.stack(), "predicted": predicted.stack(),
                        "members_mean": _members_mean(alone).stack()}).reset_index()
    out.columns = ["budget", "m", *out.columns[2:]]
    out.insert(0, "fit", label)
    out["passes"] = out["budget"] / (out["m"] * s.bucket_size)
    # Judged: the unions (top-1 is a fitted curve) past their first pass (before it, every pool
    # sees only fresh samples and the mixing rule is a plain power law of the mean b).
    out["judged"] = (out["m"] > 1) & (out["passes"] > 1)
    return out


def prediction_table(runs: pd.DataFrame, fits: dict[str, LawFit], s: Settings) -> pd.DataFrame:
    """Measured vs predicted error of every (pool, budget), from the seed-mean fit (``fit =
    "mean"``) and from each seed's own fit (``fit = "seed N"``, against that seed's runs); plus
    the law-free baseline ``members_mean``. Columns fit, budget, m, measured, predicted,
    members_mean, passes, judged."""
    pools = pool_table(runs)
    alone = runs[runs["bucket"] > 0].pivot_table(index=["seed", "budget"], columns="bucket", values="error")
    parts = [_prediction_rows(pools.groupby("budget").mean(), alone.groupby("budget").mean(),
                              fits["mean"], s, "mean")]
    parts += [_prediction_rows(pools.xs(seed), alone.xs(seed), fits[f"seed {seed}"], s, f"seed {seed}")
              for seed in s.seeds]
    return pd.concat(parts, ignore_index=True)
