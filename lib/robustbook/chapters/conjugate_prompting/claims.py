"""Chapter 10's metrics, pre-registered verdicts and claims.

Thresholds and expectations were fixed on tuning seeds 100-102 at preset cpu before the reported
seeds 0-2 ran. Losses are squared errors against the noisy target, averaged over the queries that
see at least k/2 in-context examples ("late" queries), on 2,000 held-out prompts per family.
Share of the forgetting gap recovered by the conjugate prompt at the pre-registered scale c:
(L_ft(1) - L_ft(c)) / (L_ft(1) - L_pre(1)) on continuous prompts.
"""

from __future__ import annotations

import numpy as np

from robustbook.book.claims import Claim, Expect, check, finding
from robustbook.book.results import mean_std
from robustbook.chapters.conjugate_prompting.result import Result
from robustbook.chapters.conjugate_prompting.tables import late_losses

MIN_FORGET_REL = 0.05       # fine-tuning raises late continuous-task MSE by >= 5% (and lowers discrete MSE)
MIN_PRIOR_SHIFT = 0.1       # implied P(discrete) on continuous prompts rises by >= 0.1 after fine-tuning
MIN_RECOVERED_SHARE = 0.1   # the conjugate prompt recovers >= 10% of the forgetting gap
MAX_BAYES_RATIO = 1.15      # pretrained model's mixture MSE <= 1.15 x the Bayes-optimal mixture MSE
MAX_ROUND_TRIP = 1e-5       # conjugate transform: answer unchanged and exact inverse (float32)

EXPECTED: dict[str, Expect] = {
    "forgetting": Expect(True),
    "skewed-inference": Expect(True),
    "pretrained-near-bayes": Expect(False, "on tuning seeds 100-102 the 32-wide GPT-2 after 3,000 steps had "
                                    "1.35-1.64x the Bayes-optimal mixture loss: undertrained at CPU scale"),
    "conjugate-recovers": Expect(False, "on tuning seeds 100-102 x -> 1.5x raised the fine-tuned model's "
                                 "continuous loss (shares -18% to -188%): the small model does not "
                                 "extrapolate to larger inputs"),
}
# Tuning seeds 100-102 (preset cpu): continuous late MSE 0.73/0.60/0.66 -> 1.02/0.66/0.71 after
# fine-tuning (+40/+11/+8%), discrete 0.57/0.47/0.57 -> 0.53/0.46/0.54; implied P(discrete)
# 0.50/0.30/0.20 -> 1.00/0.60/0.35; conjugate c = 1.5: fine-tuned 1.07/0.72/0.82 (worse).


def _late(result: Result, c: float) -> dict[str, dict[str, list[float]]]:
    """{model: {family: [late MSE per seed]}} at input scale ``c``."""
    late = late_losses(result, c=c)
    return {m: {f: g.sort_values("seed")["mse"].tolist() for f, g in gm.groupby("family")}
            for m, gm in late.groupby("model")}


def metrics_from(result: Result) -> dict:
    """Numbers the claims are judged on; every list is over seeds (sorted)."""
    s, models = result.settings, result.models
    final = models[(models["model"] == "pretrained") | (models["ft_steps"] == s.ft_steps)]
    prior = {m: g.sort_values("seed")["implied_prior"].tolist() for m, g in final.groupby("model")}
    by_c = {str(c): {m: v["continuous"] for m, v in _late(result, c).items() if not m.startswith("bayes")}
            for c in s.c_grid}
    return {"seeds": s.seeds, "late_mse": _late(result, 1.0), "late_continuous_mse_by_c": by_c,
            "conjugate_c": s.conjugate_c, "implied_prior": prior, "round_trip_gap": result.round_trip_gap}


def recovered_share(ft_plain: float, ft_conj: float, pre_plain: float) -> float | None:
    """(L_ft(1) - L_ft(c)) / (L_ft(1) - L_pre(1)); None when fine-tuning opened no gap."""
    gap = ft_plain - pre_plain
    return (ft_plain - ft_conj) / gap if gap > 0 else None


def judge_claims(m: dict) -> list[Claim]:
    return [_forgetting(m), _skewed(m), _near_bayes(m), _conjugate(m), _round_trip(m), _bayes_order(m)]


def _forgetting(m: dict) -> Claim:
    pre, ft = m["late_mse"]["pretrained"], m["late_mse"]["fine-tuned"]
    rise = [(a - b) / b for a, b in zip(ft["continuous"], pre["continuous"])]
    drop = [b - a for a, b in zip(ft["discrete"], pre["discrete"])]
    mean_rise = (np.mean(ft["continuous"]) - np.mean(pre["continuous"])) / np.mean(pre["continuous"])
    return finding(
        "forgetting", "Fine-tuning on the discrete pool raises the continuous-task ICL loss while "
        "lowering the discrete-task loss", "continuous-task loss rises after fine-tuning (Sec. 3, Fig. 2)",
        f"continuous MSE {mean_std(pre['continuous'], digits=3)} -> {mean_std(ft['continuous'], digits=3)} "
        f"({mean_rise:+.0%}, threshold +{MIN_FORGET_REL:.0%}); discrete {mean_std(pre['discrete'], digits=3)}"
        f" -> {mean_std(ft['discrete'], digits=3)}",
        on_mean=mean_rise >= MIN_FORGET_REL and np.mean(drop) > 0,
        per_seed=[r >= MIN_FORGET_REL and d > 0 for r, d in zip(rise, drop)], expect=EXPECTED["forgetting"])


def _skewed(m: dict) -> Claim:
    pre, ft = m["implied_prior"]["pretrained"], m["implied_prior"]["fine-tuned"]
    shift = [a - b for a, b in zip(ft, pre)]
    return finding(
        "skewed-inference", "On continuous prompts the fine-tuned model behaves like a Bayes predictor "
        "with a prior skewed toward the discrete pool (implicit task inference shifts)",
        "fine-tuned model ≈ discrete-prior estimator (Sec. 3)",
        f"implied P(discrete): pretrained {mean_std(pre, digits=2)} (true 0.5) -> fine-tuned "
        f"{mean_std(ft, digits=2)}; shift {np.mean(shift):+.2f} (threshold +{MIN_PRIOR_SHIFT})",
        on_mean=np.mean(shift) >= MIN_PRIOR_SHIFT, per_seed=[x >= MIN_PRIOR_SHIFT for x in shift],
        expect=EXPECTED["skewed-inference"])


def _near_bayes(m: dict) -> Claim:
    pre, bayes = m["late_mse"]["pretrained"], m["late_mse"]["bayes mixture"]
    ratio = [(a + b) / (c + d) for a, b, c, d in zip(pre["continuous"], pre["discrete"],
                                                     bayes["continuous"], bayes["discrete"])]
    return finding(
        "pretrained-near-bayes", "The pretrained transformer is close to the Bayes-optimal predictor "
        "for the pretraining mixture", "transformers approximate the Bayes predictor of their "
        "pretraining prior (Sec. 3)", f"mixture MSE ratio model / Bayes {mean_std(ratio, digits=3)} "
        f"(≤ {MAX_BAYES_RATIO})", on_mean=np.mean(ratio) <= MAX_BAYES_RATIO,
        per_seed=[r <= MAX_BAYES_RATIO for r in ratio], expect=EXPECTED["pretrained-near-bayes"])


def _conjugate(m: dict) -> Claim:
    c = m["conjugate_c"]
    plain, conj = m["late_continuous_mse_by_c"]["1.0"], m["late_continuous_mse_by_c"][str(c)]
    shares = [recovered_share(a, b, p) for a, b, p in zip(plain["fine-tuned"], conj["fine-tuned"], plain["pretrained"])]
    mean = recovered_share(np.mean(plain["fine-tuned"]), np.mean(conj["fine-tuned"]), np.mean(plain["pretrained"]))
    shown = "undefined (no gap)" if mean is None else f"{mean:.0%}"
    return finding(
        "conjugate-recovers", f"Conjugate prompting (x -> {c:g} x, answer unchanged) recovers part of "
        "the continuous-task loss lost to fine-tuning", "scaling the inputs recovers part of the "
        "pretraining capability (Sec. 4)", f"share of the gap recovered at c = {c:g}: {shown} "
        f"(threshold {MIN_RECOVERED_SHARE:.0%}); fine-tuned MSE {mean_std(plain['fine-tuned'], digits=3)} "
        f"-> {mean_std(conj['fine-tuned'], digits=3)}",
        on_mean=mean is not None and mean >= MIN_RECOVERED_SHARE,
        per_seed=[x is not None and x >= MIN_RECOVERED_SHARE for x in shares], expect=EXPECTED["conjugate-recovers"])


def _round_trip(m: dict) -> Claim:
    return check(
        "conjugate-exact", "The conjugate prompt keeps every answer: <w / c, c x> = <w, x>, and "
        "s^-1(s(x)) = x", "exact by construction (Sec. 4)", f"max gap {m['round_trip_gap']:.1e} "
        f"(float32, ≤ {MAX_ROUND_TRIP:.0e})", m["round_trip_gap"] <= MAX_ROUND_TRIP)


def _bayes_order(m: dict) -> Claim:
    late = {k: {f: float(np.mean(v)) for f, v in fam.items()} for k, fam in m["late_mse"].items()}
    r, d, mix = late["bayes ridge"], late["bayes discrete"], late["bayes mixture"]
    ok = r["continuous"] <= mix["continuous"] <= d["continuous"] and d["discrete"] <= mix["discrete"] <= r["discrete"]
    return check(
        "bayes-ordering", "Each Bayes predictor is best on its own family: ridge on continuous tasks, "
        "the pool posterior on discrete tasks, the mixture in between", "Bayes optimality",
        f"continuous: ridge {r['continuous']:.3f} ≤ mixture {mix['continuous']:.3f} ≤ pool "
        f"{d['continuous']:.3f}; discrete: pool {d['discrete']:.3f} ≤ mixture {mix['discrete']:.3f} ≤ "
        f"ridge {r['discrete']:.3f}", ok)
