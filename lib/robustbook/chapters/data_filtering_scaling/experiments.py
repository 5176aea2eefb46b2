"""Parts 2-3: train on a synthetic web-like pool at several budgets, fit the law per bucket, and
predict the unions without training on them.

Runs: for every seed, the filtered pools top-1, top-1..2, ..., top-1..M (``run = "top-m"``) and
every lower bucket alone (``run = "bucket i"``; bucket 1 alone *is* top-1), each trained from
scratch at every budget (samples seen) with its own cosine schedule. Model: linear softmax
regression (the Bayes classifier of the mixture is linear, so the Bayes error is reachable).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from robustbook.chapters.data_filtering_scaling.config import Settings
from robustbook.data.quality_pools import QualityPool, gaussian_quality_pool
from robustbook.scaling_laws import (
    Curve,
    LawFit,
    fit_law,
    linear_errors,
    passes,
    pool_errors,
    train_linear_runs,
)

SEPARATION = 4.5  # distance scale of the class means (Bayes error ~11% at dim 16)


def make_pool(s: Settings, seed: int) -> QualityPool:
    """The seed's synthetic web pool: Gaussian mixture, one label-noise rate per bucket."""
    return gaussian_quality_pool(bucket_size=s.bucket_size, noise_rates=s.label_noise, dim=s.dim,
                                 separation=SEPARATION, seed=seed)


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
    (1-based; 0 for unions of several), pool_size, budget, passes, error; Bayes error per seed).
    Every run of a seed starts from the same initial weights and data-order seed."""
    pools = {seed: make_pool(s, seed) for seed in s.seeds}
    runs = [(seed, name, xy) for seed, pool in pools.items() for name, xy in _runs(pool).items()]
    n_classes = int(pools[s.seed].y_test.max()) + 1
    rows = []
    for n in s.budgets:
        w, b = train_linear_runs([xy[0] for _, _, xy in runs], [xy[1] for _, _, xy in runs],
                                 samples_seen=n, batch_size=s.batch_size, lr=s.lr, n_classes=n_classes,
                                 seeds=[seed for seed, _, _ in runs], weight_decay=s.weight_decay,
                                 device=device)
        errors = linear_errors(w, b, [pools[seed].x_test for seed, _, _ in runs],
                               [pools[seed].y_test for seed, _, _ in runs])
        rows += [{**_describe(seed, name, len(xy[0])), "budget": n, "passes": n / len(xy[0]), "error": e}
                 for (seed, name, xy), e in zip(runs, errors)]
    return pd.DataFrame(rows), {seed: pool.bayes_error for seed, pool in pools.items()}


def pool_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Errors of the filtered pools only: index (seed, budget), columns m = 1..M."""
    pools = runs[runs["m"] > 0]
    return pools.pivot_table(index=["seed", "budget"], columns="m", values="error")


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
    """The law fitted (d = the Bayes error) to the seed-mean bucket curves (``"mean"``), to each
    seed's curves (``"seed N"``), and the no-decay control on the seed mean (``"no_decay"``)."""
    d_mean = float(np.mean(list(bayes.values())))
    fits = {"mean": fit_law(bucket_curves(runs), d=d_mean),
            "no_decay": fit_law(bucket_curves(runs), d=d_mean, decay=False)}
    for seed, d in bayes.items():
        fits[f"seed {seed}"] = fit_law(bucket_curves(runs, seed), d=d)
    return fits


def predict_pools(fit: LawFit, budgets, bucket_size: int, scale_tau: bool = True) -> pd.DataFrame:
    """Predicted error of top-1..M at every budget from the per-bucket fit (mixing rule), buckets
    in quality order. Index budget, columns m."""
    rows = {n: pool_errors(n, bucket_size, fit.a, fit.b, fit.tau, fit.d, scale_tau) for n in budgets}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=range(1, len(fit.b) + 1))
    return frame.rename_axis(index="budget", columns="m")


def prediction_table(runs: pd.DataFrame, fit: LawFit, s: Settings) -> pd.DataFrame:
    """Measured seed-mean vs predicted error for every (pool, budget): columns budget, m, passes,
    measured, predicted, fitted (True for top-1, whose curve the fit saw)."""
    measured = pool_table(runs).groupby("budget").mean()
    predicted = predict_pools(fit, s.budgets, s.bucket_size, s.scale_tau)
    out = pd.DataFrame({"measured": measured.stack(), "predicted": predicted.stack()}).reset_index()
    out["passes"] = [passes(n, m * s.bucket_size) + (n % (m * s.bucket_size)) / (m * s.bucket_size)
                     for n, m in zip(out["budget"], out["m"])]
    out["fitted"] = out["m"] == 1
    return out


def rank_agreement(table: pd.DataFrame) -> dict:
    """Per budget: measured and predicted best pool, and Spearman correlation of the pools'
    measured and predicted errors; plus the share of budgets where the best pools agree."""
    per_budget = {}
    for n, g in table.groupby("budget"):
        rho = g["measured"].rank().corr(g["predicted"].rank())
        per_budget[int(n)] = {"measured_best": int(g.loc[g["measured"].idxmin(), "m"]),
                              "predicted_best": int(g.loc[g["predicted"].idxmin(), "m"]),
                              "spearman": float(rho)}
    agree = np.mean([v["measured_best"] == v["predicted_best"] for v in per_budget.values()])
    unions = table[~table["fitted"]]
    return {"per_budget": per_budget, "best_pool_agreement": float(agree),
            "mean_spearman": float(np.mean([v["spearman"] for v in per_budget.values()])),
            "mae_unions": float((unions["measured"] - unions["predicted"]).abs().mean())}
