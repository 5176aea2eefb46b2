"""Part 1: the paper's best-pool frontier from its published constants (no training).

Constants: Goyal et al. (2024), fitted on DataComp medium with T-MARS quality buckets of 12.8M
samples each and ImageNet zero-shot error (a = 0.025, d = 0.1; the official repository's
``tmars_imagenet1k_utility`` entry, the taus rounded to two decimals).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from robustbook.scaling_laws import frontier

PUBLISHED = {
    "a": 0.025,
    "d": 0.1,
    "bucket_size": 12.8e6,
    "b": (-0.16, -0.125, -0.10, -0.085),
    "tau": (6.73, 8.55, 5.27, 2.27),
    "buckets": ("top 0-10%", "10-20%", "20-30%", "30-40%"),
}
POOLS = ("top 10%", "top 20%", "top 30%", "top 40%")
TABLE_BUDGETS = (32e6, 64e6, 128e6, 256e6, 384e6, 512e6, 640e6)   # the 32M .. 640M


def published_errors(budgets, scale_tau: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(errors (len(budgets), 4), best number of buckets per budget) from the published constants."""
    p = PUBLISHED
    return frontier(budgets, p["bucket_size"], p["a"], p["b"], p["tau"], p["d"], scale_tau=scale_tau)


def frontier_table(budgets=TABLE_BUDGETS, scale_tau: bool = True) -> pd.DataFrame:
    """ImageNet zero-shot accuracy (%) the law predicts for each pool, and the best pool, per budget."""
    errors, best = published_errors(budgets, scale_tau)
    table = pd.DataFrame(100 * (1 - errors), columns=list(POOLS))
    table.insert(0, "samples seen", [f"{n / 1e6:.0f}M" for n in budgets])
    table["best pool"] = [POOLS[m - 1] for m in best]
    return table.set_index("samples seen").round(2)


def frontier_curves(budgets=None, scale_tau: bool = True) -> pd.DataFrame:
    """Long table (samples_seen, pool, accuracy in %, on_frontier) on a log grid of budgets."""
    budgets = np.geomspace(16e6, 2.56e9, 61) if budgets is None else np.asarray(budgets, float)
    errors, best = published_errors(budgets, scale_tau)
    rows = [{"samples_seen": n, "pool": POOLS[m], "accuracy": 100 * (1 - errors[i, m]),
             "on_frontier": best[i] == m + 1}
            for i, n in enumerate(budgets) for m in range(errors.shape[1])]
    return pd.DataFrame(rows)


def frontier_metrics() -> dict:
    """What the claims use: best pool (1-based number of buckets) and accuracies (%) per table
    budget, with the official tau * m quirk (``tau_scaled``) and without it (``tau_not_scaled``)."""
    out = {}
    for label, flag in (("tau_scaled", True), ("tau_not_scaled", False)):
        errors, best = published_errors(TABLE_BUDGETS, flag)
        out[label] = {"budgets": list(TABLE_BUDGETS), "best_m": [int(m) for m in best],
                      "accuracy": (100 * (1 - errors)).round(3).tolist()}
    return out


def crossovers(scale_tau: bool = True, low: float = 16e6, high: float = 2.56e9) -> list[tuple[float, str]]:
    """Where the best pool changes on a fine log grid of budgets: [(samples seen, new best pool)]."""
    budgets = np.geomspace(low, high, 600)
    _, best = published_errors(budgets, scale_tau)
    return [(float(budgets[i]), POOLS[best[i] - 1]) for i in range(1, len(best)) if best[i] != best[i - 1]]
