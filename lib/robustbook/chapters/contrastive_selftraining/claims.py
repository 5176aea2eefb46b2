"""Chapter 07's metrics, pre-registered verdicts and claims.

Thresholds and expectations were fixed on tuning seeds before the reported seeds 0-4 ran: theory
model on seeds 100-107 (and the chapter run at seed = 100, n_seeds = 5), images on seeds 100-102.
Two expectations (``st-alone-no-gain``, ``image-fixmatch-beats-erm``) were reclassified as fragile
after the reported run; the history is next to ``EXPECTED`` and in the notebook.
Accuracies are target test accuracies in [0, 1]; "gain" is a difference of accuracies.
"""

from __future__ import annotations

import numpy as np

from robustbook.book.claims import Claim, Expect, check, finding
from robustbook.book.results import mean_std
from robustbook.chapters.contrastive_selftraining.result import Result

MAX_ST_GAIN = 0.05          # ST alone: gain over ERM below 5 points ("does not beat ERM")
MIN_CL_GAIN = 0.05          # CL beats ERM by >= 5 points
MIN_STOC_MARGIN = 0.10      # STOC beats the better of ST and CL by >= 10 points ("wide margin")
MAX_BAYES_GAP = 0.01        # STOC within 1 point of the Bayes-optimal target accuracy
NO_SYNERGY_MARGIN = 0.01    # no shift: |STOC - max(CL, ST)| <= 1 point
MIN_IMAGE_CL_GAIN = 0.05    # images: SimCLR beats ERM by >= 5 points
MIN_IMAGE_FM_GAIN = 0.02    # images: FixMatch beats ERM by >= 2 points
MIN_IMAGE_STOC_MARGIN = 0.02  # images: STOC beats the better of SimCLR and FixMatch by >= 2 points
OPTIMUM_TOL = 1e-8          # closed form reaches the analytic optimum (relative, float64)
BAYES_SLACK = 0.01          # no method beats Bayes by more than sampling error (5,000 test points)

EXPECTED: dict[str, Expect] = {
    # History: pre-registered Expect(True) on tuning seeds 100-104 (ST's gain over ERM at most +1.8
    # points, 5/5 seeds below +5); the reported seeds 0-4 gave 2/5 (gains +5.5, +8.7, +6.6 on three
    # seeds, mean +3.8). Reclassified as fragile AFTER the reported run: the effect is seed-sensitive.
    "st-alone-no-gain": Expect.fragile("seed-sensitive: 5/5 seeds on tuning, 2/5 on the reported "
                                       "seeds; reclassified after the reported run", tuned=True,
                                       post_hoc=True),
    "st-fails-at-every-scale": Expect(False, "on tuning seeds 100-104 ST alone reached the invariant "
                                      "classifier on some seeds at logit scales 3 and 5"),
    "cl-beats-erm": Expect(True),
    "stoc-beats-both": Expect(True),
    "stoc-near-bayes": Expect(True),
    "stoc-sgd-encoder": Expect(True),
    "no-shift-no-synergy": Expect(True),
    "image-simclr-beats-erm": Expect(True),
    # History: Expect(True) before the reported run, although tuning seeds 100-104 sat on the bar
    # (4/5); the reported seeds gave 4/5 again. Reclassified as fragile after the reported run,
    # when the kit gained fragile pre-registrations, because of the tuning result alone.
    "image-fixmatch-beats-erm": Expect.fragile("4/5 seeds on tuning (on the 80% bar); reclassified "
                                               "after the reported run", tuned=True, post_hoc=True),
    "image-stoc-beats-both": Expect(True),
}


def _by_method(frame) -> dict[str, list[float]]:
    return {m: g.sort_values("seed")["target_acc"].tolist() for m, g in frame.groupby("method")}


def metrics_from(result: Result) -> dict:
    """Numbers the claims are judged on; every list is over the reported seeds."""
    th = result.theory
    enc = result.encoders.sort_values("seed") if len(result.encoders) else result.encoders
    return {
        "seeds": result.settings.seeds,
        "bayes_target_acc": result.bayes_target_acc,
        "theory_shift": _by_method(th[th["setting"] == "shift"]),
        "theory_no_shift": _by_method(th[th["setting"] == "no-shift"]),
        "encoder": {k: enc[k].tolist() for k in ("optimum", "closed_form_loss", "sgd_loss", "alignment")},
        "images": _by_method(result.images),
        "st_by_scale": {str(k): g.sort_values("seed")["target_acc"].tolist()
                        for k, g in result.scales[result.scales["method"] == "st"].groupby("logit_scale")},
    }


def _diff(a: list[float], b: list[float]) -> list[float]:
    return [x - y for x, y in zip(a, b)]


def _best(a: list[float], b: list[float]) -> list[float]:
    return [max(x, y) for x, y in zip(a, b)]


def _pts(values) -> str:
    return f"{100 * np.mean(values):+.1f} points"


def judge_claims(m: dict) -> list[Claim]:
    t, n, im = m["theory_shift"], m["theory_no_shift"], m["images"]
    return [_st_alone(t), _st_every_scale(m["st_by_scale"], t["erm"]), _cl_beats_erm(t), _stoc_beats_both(t), _stoc_near_bayes(t, m["bayes_target_acc"]),
            _stoc_sgd(t), _no_synergy(n, t),
            _gain("image-simclr-beats-erm", "Images: SimCLR pretraining (source + target) then "
                  "fine-tuning beats ERM on the target", "contrastive > ERM on most benchmarks (Table 1)",
                  im["simclr"], im["erm"], MIN_IMAGE_CL_GAIN, "SimCLR", "ERM"),
            _gain("image-fixmatch-beats-erm", "Images: FixMatch beats ERM on the target",
                  "self-training > ERM on most benchmarks (Table 1)", im["fixmatch"], im["erm"],
                  MIN_IMAGE_FM_GAIN, "FixMatch", "ERM"),
            _gain("image-stoc-beats-both", "Images: STOC beats the better of SimCLR and FixMatch",
                  "STOC +3-8% over either alone (8 UDA benchmarks)", im["stoc"],
                  _best(im["simclr"], im["fixmatch"]), MIN_IMAGE_STOC_MARGIN, "STOC", "best of the two"),
            _closed_form(m["encoder"]), _below_bayes(t, m["bayes_target_acc"])]


def _gain(id: str, statement: str, paper: str, a: list[float], b: list[float], bound: float,
          name_a: str, name_b: str) -> Claim:
    gains = _diff(a, b)
    return finding(id, statement, paper,
                   f"{name_a} {mean_std(a, 100)} vs {name_b} {mean_std(b, 100)}: {_pts(gains)} "
                   f"(threshold {100 * bound:+.0f})",
                   on_mean=np.mean(gains) >= bound, per_seed=[g >= bound for g in gains], expect=EXPECTED[id])


def _st_alone(t: dict) -> Claim:
    gains = _diff(t["st"], t["erm"])
    return finding("st-alone-no-gain", "Theory model: self-training alone (from ERM) does not beat ERM",
                   "ST alone fails: it keeps the spurious feature (Sec. 4)",
                   f"ST {mean_std(t['st'], 100)} vs ERM {mean_std(t['erm'], 100)}: {_pts(gains)} "
                   f"(must stay below {100 * MAX_ST_GAIN:+.0f})",
                   on_mean=np.mean(gains) < MAX_ST_GAIN, per_seed=[g < MAX_ST_GAIN for g in gains],
                   expect=EXPECTED["st-alone-no-gain"])


def _st_every_scale(by_scale: dict, erm: list[float]) -> Claim:
    gains = {k: _diff(v, erm) for k, v in by_scale.items()}
    per_seed = [all(g[i] < MAX_ST_GAIN for g in gains.values()) for i in range(len(erm))]
    text = ", ".join(f"scale {k}: {_pts(g)}" for k, g in gains.items())
    return finding("st-fails-at-every-scale", "Theory model: ST alone stays below ERM + 5 points at "
                   "every logit scale tried (a robustness check the paper does not run)",
                   "ST alone fails (Sec. 4)", f"ST − ERM: {text}",
                   on_mean=all(np.mean(g) < MAX_ST_GAIN for g in gains.values()), per_seed=per_seed,
                   expect=EXPECTED["st-fails-at-every-scale"])


def _cl_beats_erm(t: dict) -> Claim:
    return _gain("cl-beats-erm", "Theory model: a linear probe on contrastive features beats ERM",
                 "CL > ERM under shift (Sec. 4)", t["cl"], t["erm"], MIN_CL_GAIN, "CL", "ERM")


def _stoc_beats_both(t: dict) -> Claim:
    return _gain("stoc-beats-both", "Theory model: STOC beats both ST and CL by a wide margin",
                 "STOC reaches the invariant classifier where either alone fails (Sec. 4)", t["stoc"],
                 _best(t["st"], t["cl"]), MIN_STOC_MARGIN, "STOC", "best of ST, CL")


def _stoc_near_bayes(t: dict, bayes: float) -> Claim:
    gaps = [bayes - a for a in t["stoc"]]
    return finding("stoc-near-bayes", "Theory model: STOC nears the Bayes-optimal target accuracy",
                   "STOC recovers the optimal (invariant) classifier (Sec. 4)",
                   f"STOC {mean_std(t['stoc'], 100)} vs Bayes {100 * bayes:.1f}: gap {_pts(gaps)} "
                   f"(≤ {100 * MAX_BAYES_GAP:.0f})",
                   on_mean=np.mean(gaps) <= MAX_BAYES_GAP, per_seed=[g <= MAX_BAYES_GAP for g in gaps],
                   expect=EXPECTED["stoc-near-bayes"])


def _stoc_sgd(t: dict) -> Claim:
    return _gain("stoc-sgd-encoder", "Theory model: with an SGD-trained contrastive encoder (not the "
                 "closed form) STOC still beats ST and CL by a wide margin", "(the paper's theory uses "
                 "the optimum)", t["stoc_sgd"], _best(t["st"], t["cl_sgd"]), MIN_STOC_MARGIN,
                 "STOC (SGD)", "best of ST, CL (SGD)")


def _no_synergy(n: dict, t: dict) -> Claim:
    gaps = _diff(n["stoc"], _best(n["cl"], n["st"]))
    shift_gap = np.mean(_diff(t["stoc"], _best(t["cl"], t["st"])))
    return finding("no-shift-no-synergy", "No shift (semi-supervised): STOC ≈ the better of CL and ST",
                   "benefits not synergistic without shift (Sec. 5.2)",
                   f"STOC − max(CL, ST) {_pts(gaps)} (|·| ≤ {100 * NO_SYNERGY_MARGIN:.0f}); under shift "
                   f"{100 * shift_gap:+.1f} points",
                   on_mean=abs(np.mean(gaps)) <= NO_SYNERGY_MARGIN,
                   per_seed=[abs(g) <= NO_SYNERGY_MARGIN for g in gaps], expect=EXPECTED["no-shift-no-synergy"])


def _closed_form(e: dict) -> Claim:
    err = max(abs(c - o) / abs(o) for c, o in zip(e["closed_form_loss"], e["optimum"]))
    above = min(s - o for s, o in zip(e["sgd_loss"], e["optimum"]))
    return check("closed-form-optimum", "The closed-form contrastive encoder reaches the analytic minimum "
                 "of the population spectral loss; the SGD encoder does not go below it",
                 "top-k eigenvectors (HaoChen et al., 2021)",
                 f"max relative gap {err:.1e}; SGD − optimum ≥ {above:.2e}; subspace alignment of the SGD "
                 f"encoder {mean_std(e['alignment'], 1, 3)}", err <= OPTIMUM_TOL and above >= -1e-9)


def _below_bayes(t: dict, bayes: float) -> Claim:
    best = max(max(v) for v in t.values())
    return check("below-bayes", "No method beats the Bayes-optimal target accuracy beyond sampling error",
                 f"Bayes = Φ(γ) = {100 * bayes:.2f}%", f"best single run {100 * best:.2f}%",
                 best <= bayes + BAYES_SLACK)
