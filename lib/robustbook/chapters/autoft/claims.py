"""Chapter 06's metrics, pre-registered verdicts and claims.

Every number is a held-out OOD test score (cpu: accuracy averaged over the eight test
corruptions, equal weight each; paper: iWildCam OOD test macro-F1) unless named otherwise.
WiSE-FT's alpha is chosen on the same small OOD validation set the searches use (the smallest
alpha among ties), so every OOD-validated method sees the same data. Thresholds are named
constants fixed on tuning seeds 100-104 (``config.TUNING_SEEDS``) before the reported seeds ran.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from robustbook.autoft.losses import TERMS
from robustbook.book.claims import Claim, Expect, check, finding
from robustbook.book.results import mean_std
from robustbook.chapters.autoft.result import Result

METHODS = ("lp", "ft", "wise_ft", "wise_ft_05", "search_id_val", "lr_wd_ood_val", "autoft")
MIN_GAIN_FT = 0.01        # AutoFT beats CE fine-tuning by >= 1 point of OOD test accuracy
MIN_GAIN_WISE = 0.01      # ... and WiSE-FT (alpha on OOD val) by >= 1 point
MIN_GAIN_ID = 0.01        # OOD-validated search beats the same search on ID validation by >= 1 point
MIN_GAIN_LRWD = 0.01      # AutoFT beats the OOD-validated (lr, wd)-only search by >= 1 point
MIN_SPEARMAN = 0.5        # OOD-val vs OOD-test accuracy over AutoFT's trials: rank correlation
MIN_ID_ACC = 0.9          # check: AutoFT's final model learned the ID task
MAX_LR_ERROR = 1e-9       # check: the lr applied is the searched lr times the schedule
MAX_ENDPOINT_DIFF = 1e-12  # check: WiSE-FT at alpha 0 / 1 scores exactly as θ₀ / fine-tuning

# Pre-registered from tuning seeds 100-104, before the reported seeds 0-4 ran: the chapter's own
# run at preset cpu with seed=100, n_seeds=5 (per-seed gains in points of OOD test accuracy, in
# brackets). An earlier round on the same seeds (same design, other search random streams) gave
# ft +3.7/+4.3/+3.8/+4.7/+6.2, ID-val +12.6/+3.5/+4.2/+6.6/+0.6, (lr, wd) +1.1/+3.4/-0.3/+4.5/+2.1.
EXPECTED: dict[str, Expect] = {
    "autoft-beats-ft": Expect(True),          # [+2.8, +5.0, +3.5, +6.2, +10.9; 5/5, mean +5.7]
    "autoft-beats-wise-ft": Expect(True),     # [+2.8, +5.0, +3.5, +6.2, +10.9; 5/5 (alpha 0.75, 1, 1, 1, 1)]
    "ood-val-beats-id-val": Expect.fragile(   # [-3.1, +3.7, +4.2, +5.8, +9.8; 4/5, mean +4.1]
        "held on 4/5 tuning seeds: on one the ID-validated search's pick did better OOD", tuned=True),
    "autoft-beats-lr-wd": Expect(True),       # [+2.2, +3.2, +3.2, +4.8, +10.5; 5/5, mean +4.8; earlier round 4/5]
    "ood-val-predicts-test": Expect(True),    # [rho 0.63, 0.90, 0.92, 0.96, 0.95; 5/5]
}


def _wise_choice(g: pd.DataFrame) -> pd.Series:
    """The WiSE-FT row with the best OOD-val score (smallest alpha among ties)."""
    return g.sort_values("alpha", kind="stable").loc[lambda d: d["ood_val"] == d["ood_val"].max()].iloc[0]


def _method_rows(result: Result) -> dict[str, pd.DataFrame]:
    sc = result.scores
    wise = sc[sc["method"] == "wise_ft"]
    rows = {m: sc[sc["method"] == m].set_index("seed") for m in METHODS
            if m not in ("wise_ft", "wise_ft_05")}
    rows["wise_ft"] = pd.DataFrame([_wise_choice(g) for _, g in wise.groupby("seed")]).set_index("seed")
    rows["wise_ft_05"] = wise[np.isclose(wise["alpha"], 0.5)].set_index("seed")
    return rows


def _spearman(trials: pd.DataFrame) -> list[float]:
    out = []
    for _, g in trials[trials["search"] == "autoft"].groupby("seed"):
        if g["ood_val"].nunique() < 2 or g["ood_test"].nunique() < 2:
            out.append(0.0)   # undefined (constant scores): counts as no rank agreement
            continue
        out.append(float(spearmanr(g["ood_val"], g["ood_test"]).statistic))
    return out


def _endpoint_diff(rows: dict, sc: pd.DataFrame) -> float:
    wise = sc[sc["method"] == "wise_ft"].set_index("seed")
    cols = ["id_val", "ood_val", "id_test", "ood_test"]
    diffs = []
    for alpha, ref in ((0.0, "lp"), (1.0, "ft")):
        at = wise[np.isclose(wise["alpha"], alpha)]
        if len(at):
            diffs.append(float((at[cols] - rows[ref].loc[at.index, cols]).abs().to_numpy().max()))
    return max(diffs) if diffs else float("nan")


def metrics_from(result: Result) -> dict:
    """Numbers the claims are judged on; lists run over the reported seeds."""
    rows = _method_rows(result)
    auto = rows["autoft"]
    return {
        "seeds": result.settings.seeds,
        **{k: {m: [float(v) for v in rows[m][k]] for m in METHODS} for k in ("ood_test", "ood_val", "id_test")},
        "wise_alpha": [float(a) for a in rows["wise_ft"]["alpha"]],
        "val_test_spearman": _spearman(result.trials),
        "autoft_weights": {t: [float(v) for v in auto[f"w_{t}"]] for t in TERMS if f"w_{t}" in auto},
        "autoft_lr": [float(v) for v in auto["lr"]],
        "autoft_weight_decay": [float(v) for v in auto["weight_decay"]],
        "wise_endpoint_diff": _endpoint_diff(rows, result.scores),
        "lr_max_rel_error": float(result.lr_log["max_rel_error"].max()),
    }


def _gap(m: dict, a: str, b: str) -> list[float]:
    return [x - y for x, y in zip(m["ood_test"][a], m["ood_test"][b])]


def _pct(values) -> str:
    return mean_std(values, 100)


def _gain(m: dict, id: str, statement: str, paper: str, better: str, worse: str, threshold: float) -> Claim:
    gap = _gap(m, better, worse)
    return finding(
        id, statement, paper,
        f"OOD test accuracy (%): {better} {_pct(m['ood_test'][better])} vs {worse} "
        f"{_pct(m['ood_test'][worse])}; gain {100 * np.mean(gap):.1f} ± {100 * np.std(gap):.1f} "
        f"points (must be ≥ {100 * threshold:g}); per seed {', '.join(f'{100 * g:+.1f}' for g in gap)}",
        on_mean=float(np.mean(gap)) >= threshold, per_seed=[g >= threshold for g in gap], expect=EXPECTED[id])


def judge_claims(m: dict) -> list[Claim]:
    rho = m["val_test_spearman"]
    id_acc = min(m["id_test"]["autoft"])
    return [
        _gain(m, "autoft-beats-ft", "AutoFT's learned objective gives higher held-out OOD accuracy "
              "than standard (cross-entropy) fine-tuning", "iWildCam OOD macro-F1 and FMoW worst-region "
              "accuracy above fine-tuning; +6.0 (iWildCam) and +1.5 (FMoW) points over the previous best",
              "autoft", "ft", MIN_GAIN_FT),
        _gain(m, "autoft-beats-wise-ft", "AutoFT beats WiSE-FT (weight interpolation, alpha chosen on "
              "the same OOD validation set) on the held-out shifts", "AutoFT above WiSE-FT on nine "
              "ImageNet shifts, iWildCam and FMoW", "autoft", "wise_ft", MIN_GAIN_WISE),
        _gain(m, "ood-val-beats-id-val", "Searching the same objective space on ID validation data "
              "instead of the small OOD set picks objectives that do worse on unseen shifts",
              "the OOD validation set is what makes the search robust (ablation: ID-validated search "
              "is worse OOD)", "autoft", "search_id_val", MIN_GAIN_ID),
        _gain(m, "autoft-beats-lr-wd", "Searching the loss-term weights adds to an OOD-validated "
              "search of (lr, weight decay) alone", "the expressive objective space beats hyperparameter "
              "tuning of standard fine-tuning on the same OOD validation data",
              "autoft", "lr_wd_ood_val", MIN_GAIN_LRWD),
        finding("ood-val-predicts-test", "Over AutoFT's trials, OOD-validation accuracy ranks the "
                "objectives as the unseen test shifts do (the small OOD set generalises)",
                "OOD validation on one shift (ImageNet-C) transfers to other shifts (V2, R, A, "
                "Sketch, ObjectNet)",
                f"Spearman ρ(OOD val, OOD test) over trials {mean_std(rho)} (must be ≥ {MIN_SPEARMAN:g}); "
                f"per seed {', '.join(f'{r:.2f}' for r in rho)}",
                on_mean=float(np.mean(rho)) >= MIN_SPEARMAN, per_seed=[r >= MIN_SPEARMAN for r in rho],
                expect=EXPECTED["ood-val-predicts-test"]),
        check("searched-lr-applied", "The searched learning rate is the one applied (times the "
              "cosine schedule) at every step of the final runs", "the official code's schedule "
              "ignores the searched lr (a defect we test against)",
              f"max relative error {m['lr_max_rel_error']:.1e} (tolerance {MAX_LR_ERROR:g})",
              m["lr_max_rel_error"] <= MAX_LR_ERROR),
        check("wise-ft-endpoints", "WiSE-FT at alpha = 0 is θ₀ and at alpha = 1 the fine-tuned model "
              "(identical scores)", "WiSE-FT definition", f"max score difference {m['wise_endpoint_diff']:.1e}",
              m["wise_endpoint_diff"] <= MAX_ENDPOINT_DIFF),
        check("autoft-learns-id", f"AutoFT's final models reach ≥ {MIN_ID_ACC:.0%} ID test accuracy "
              "on every seed", "ID accuracy of AutoFT close to fine-tuning's",
              f"lowest ID test accuracy {id_acc:.1%}", id_acc >= MIN_ID_ACC),
    ]
