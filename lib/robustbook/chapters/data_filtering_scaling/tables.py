"""Chapter 02's tables (what the notebook shows besides figures)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from robustbook.book.results import mean_std
from robustbook.chapters.data_filtering_scaling.claims import b_spearman
from robustbook.chapters.data_filtering_scaling.result import Result


def _pool(m: int) -> str:
    return "top-1" if m == 1 else f"top-1..{m}"


def pool_errors(result: Result) -> pd.DataFrame:
    """Test error (%) of every filtered pool per budget, mean ± std over seeds; best pool per seed."""
    runs = result.runs[result.runs["m"] > 0]
    table = runs.groupby(["budget", "m"])["error"].apply(lambda v: mean_std(v, 100)).unstack("m")
    table.columns = [_pool(m) for m in table.columns]
    best = result.best
    table["best (seed mean)"] = best["mean"].map(_pool)
    table["best per seed"] = [" ".join(str(v) for v in row) for row in best.drop(columns="mean").values]
    return table.rename_axis("samples seen")


def fitted_parameters(result: Result) -> pd.DataFrame:
    """Per bucket: fitted b and tau on the seed-mean curves, b over the per-seed fits, fit RMSE;
    ``attrs["order"]``: Spearman of b with the quality rank, seed-mean fit and per seed."""
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
    table.attrs["order"] = (f"Spearman(b, quality rank) = {b_spearman(fit.b):.2f} (seed-mean fit); per seed "
                            + ", ".join(f"{b_spearman(f.b):.2f}" for f in per_seed))
    return table


def prediction_summary(result: Result) -> pd.DataFrame:
    """Per fit (seed-mean and each seed): mean |error| of the mixing rule and of the law-free
    baseline on the judged points (unions past their first pass), in points."""
    table = result.prediction[result.prediction["judged"]]
    rows = [{"fit": label, "judged points": len(g),
             "mixing rule |pred − meas|": round(100 * float(np.mean(np.abs(g["predicted"] - g["measured"]))), 2),
             "baseline |members − meas|": round(100 * float(np.mean(np.abs(g["members_mean"] - g["measured"]))), 2)}
            for label, g in table.groupby("fit", sort=False)]
    return pd.DataFrame(rows).set_index("fit")


def clip_accuracy(result: Result) -> pd.DataFrame:
    """Zero-shot accuracy (%) per CLIP pool and budget, mean ± std over seeds, and passes."""
    clip = result.clip
    table = clip.groupby(["budget", "m"])["accuracy"].apply(lambda v: mean_std(v, 100)).unstack("m")
    passes = clip.groupby(["budget", "m"])["passes"].first().unstack("m")
    table.columns = [f"{_pool(m)} ({passes[m].iloc[-1]:.0f} passes at the end)" for m in table.columns]
    best = clip.pivot_table(index=["budget", "seed"], columns="m", values="accuracy").idxmax(axis=1)
    table["best per seed"] = best.unstack("seed").astype(int).astype(str).agg(" ".join, axis=1)
    return table.rename_axis("samples seen")
