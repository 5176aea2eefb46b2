"""Chapter 02's tables (what the notebook shows besides figures)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from robustbook.book.results import mean_std


def _pool(m: int) -> str:
    return "top-1" if m == 1 else f"top-1..{m}"


def pool_errors(result) -> pd.DataFrame:
    """Test error (%) of every filtered pool per budget, mean ± std over seeds; best pool per seed."""
    runs = result.runs[result.runs["m"] > 0]
    table = runs.groupby(["budget", "m"])["error"].apply(lambda v: mean_std(v, 100)).unstack("m")
    table.columns = [_pool(m) for m in table.columns]
    best = result.best
    table["best (seed mean)"] = best["mean"].map(_pool)
    table["best per seed"] = [" ".join(str(v) for v in row) for row in best.drop(columns="mean").values]
    return table.rename_axis("samples seen")


def fitted_parameters(result) -> pd.DataFrame:
    """Per bucket: fitted b and tau on the seed-mean curves, b over the per-seed fits, fit RMSE."""
    s, fit = result.settings, result.fits["mean"]
    per_seed = [result.fits[f"seed {seed}"] for seed in s.seeds]
    rows = [{"bucket": f"{i + 1} ({noise:.0%} label noise)", "b": round(fit.b[i], 3),
             "τ (repetitions)": round(fit.tau[i], 2),
             "b over per-seed fits": mean_std([f.b[i] for f in per_seed], digits=3),
             "fit RMSE (points)": round(100 * fit.rmse_per_curve[i], 2),
             "RMSE without decay": round(100 * result.fits["no_decay"].rmse_per_curve[i], 2)}
            for i, noise in enumerate(s.label_noise)]
    table = pd.DataFrame(rows).set_index("bucket")
    table.attrs["shared"] = f"a = {fit.a:.3g}, d = Bayes error = {fit.d:.3f}"
    return table


def prediction_summary(result) -> pd.DataFrame:
    """Per budget: measured vs predicted best pool, Spearman of the pools, mean |error| of unions."""
    table = result.prediction
    rows = []
    for n, v in result.agreement["per_budget"].items():
        unions = table[(table["budget"] == n) & ~table["fitted"]]
        rows.append({"samples seen": n, "measured best": _pool(v["measured_best"]),
                     "predicted best": _pool(v["predicted_best"]), "Spearman": round(v["spearman"], 2),
                     "mean |pred − meas| unions (points)":
                         round(100 * float(np.mean(np.abs(unions["measured"] - unions["predicted"]))), 2)})
    return pd.DataFrame(rows).set_index("samples seen")


def clip_accuracy(result) -> pd.DataFrame:
    """Zero-shot accuracy (%) per CLIP pool and budget, mean ± std over seeds, and passes."""
    clip = result.clip
    table = clip.groupby(["budget", "m"])["accuracy"].apply(lambda v: mean_std(v, 100)).unstack("m")
    passes = clip.groupby(["budget", "m"])["passes"].first().unstack("m")
    table.columns = [f"{_pool(m)} ({passes[m].iloc[-1]:.0f} passes at the end)" for m in table.columns]
    return table.rename_axis("samples seen")
