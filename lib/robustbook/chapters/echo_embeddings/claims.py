"""Chapter 05's metrics and claims: findings (the paper's results, judged on the seed mean and on
>= 80% of the seeds) and checks (identities of a causal LM and of our plumbing).

Thresholds and the pre-registered verdicts were fixed on tuning seeds ``TUNING_SEEDS`` (100-109)
at preset cpu, before the reported seeds (0-4) were run; the measured tuning values are in the
comments. All scores are on a 0-1 scale; claims use mean pooling (the paper's default) and the
causal LM of the run (tiny GPT-2 at cpu, ``model_name`` at paper).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from robustbook.book.claims import Claim, Expect, check, finding
from robustbook.book.results import mean_std
from robustbook.chapters.echo_embeddings.result import Result

TUNING_SEEDS = tuple(range(100, 110))
CHANCE_TRIPLET = 0.5
CHANCE_PROBE = 1 / 8                        # 8 concepts
MAX_TIE_MARGIN = 1e-5                       # check: every |cos(q,s+) - cos(q,s-)| below this
PROBE_CLASSICAL_MAX = CHANCE_PROBE + 0.10   # check: within 0.10 of chance, ~5 std (tuning max 0.16)
ECHO_MIN_TRIPLET = 0.75    # finding: halfway from chance to perfect (tuning 0.90 ± 0.09, min 0.77, 10/10)
PROBE_ECHO_MIN = 0.80      # finding: echo probe (tuning 0.96 ± 0.02, min 0.91, 10/10; chance 0.125)
# the diagnosis of the whole-sentence result (tuning seeds 100-104, this code: see EXPECTED)
CAUSE_LATE_MIN = 0.9       # echo pooled over the second copy's late words picks the positive
CAUSE_EARLY_MAX = 0.1      # ... over its early words it picks the negative (shares them)
CAUSE_SPREAD_RATIO = 10.0  # echo's early/late spread at least 10x classical's
# contrastive fine-tuning (first ft_seeds seeds; tuning seeds 100-104, see EXPECTED)
FT_TOLERANCE = 0.01        # "no worse": echo within 0.01 of classical on every whole-sentence task
PAPER_FT_GAIN = 0.007      # the paper: echo ahead by +0.7% after fine-tuning (MTEB average)
FT_MIN_GAIN = PAPER_FT_GAIN / 2  # reproduced: at least half the paper's relative gain, mean over tasks
MTEB_AGREEMENT = 1e-4                       # check: mteb's scores of our embeddings equal ours
WHOLE_TASKS = ("hard_triplet", "sts_spearman", "retrieval_ndcg10")
PAPER_ZERO_SHOT_GAIN = 0.09                 # the paper: echo > classical by over 9% zero-shot on MTEB
MTEB_MIN_GAIN = PAPER_ZERO_SHOT_GAIN / 2    # reproduced: at least half of the paper's relative gain
PAPER_MTEB = "MTEB average: +9% zero-shot, +0.7% fine-tuned (Mistral-7B, 56 tasks)"

EXPECTED: dict[str, Expect] = {
    "echo-sees-late": Expect(True),
    "echo-probe-late-concept": Expect(True),
    # tuning: echo below classical on all three tasks on 10/10 seeds, by 0.63 (hard triplet), 0.33
    # (STS), 0.34 (retrieval nDCG@10) on the seed mean
    "whole-sentence-gain": Expect(False, "a 0.1M-parameter LM trained for seconds: its second-copy "
                                  "states copy the first copy and are worse whole-sentence features "
                                  "(echo below classical on 10/10 tuning seeds)"),
    # diagnosis (added with issue #9; thresholds fixed on tuning seeds 100-104 before reported seeds
    # 0-4 were run with this code), chapter.run(Config(seed=100, n_seeds=5)): echo late words
    # 1.000 ± 0.000, early words 0.006 ± 0.006, early/late spread echo 0.77 ± 0.02 vs classical
    # 0.017 ± 0.003 (x46), copy accuracy 0.82 ± 0.03; 5/5 seeds, far from every threshold
    "whole-sentence-cause": Expect(True),
    # contrastive fine-tuning, 30 steps of 8 concept pairs, lr 1e-3 (tuning seeds 100-104, before the
    # reported seeds ran with this code): echo ends within 0.003 of classical on every task on 5/5;
    # both reach the tasks' ceiling (classical after 2-5 steps), echo - classical -0.1% to 0%
    "ft-closes-gap": Expect(True),
    "ft-echo-ahead": Expect(False, "both embeddings reach the ceiling of these synthetic tasks after "
                            "fine-tuning (echo - classical between -0.1% and 0% on 5/5 tuning seeds): "
                            "no room for the paper's +0.7%"),
}
PAPER_EXPECTED = {"mteb-zero-shot-gain": Expect(True)}  # preset paper only (not run on tuning seeds)


def _by_key(scores: pd.DataFrame) -> dict:
    """{model: {strategy: {pooling: {task: [score per seed]}}}}"""
    out: dict = {}
    for (model, strategy, pooling, task), g in scores.groupby(["model", "strategy", "pooling", "task"]):
        out.setdefault(model, {}).setdefault(strategy, {}).setdefault(pooling, {})[task] = \
            g.sort_values("seed")["score"].tolist()
    return out


def metrics_from(result: Result) -> dict:
    """Numbers the claims are judged on (JSON-ready): scores per seed, tie diagnostics per seed."""
    late_diag = {f"{st}/{p}": {"tie_fraction": g.sort_values("seed")["tie_fraction"].tolist(),
                               "max_abs_margin": g.sort_values("seed")["max_abs_margin"].tolist()}
                 for (st, p), g in result.diagnostics.groupby(["strategy", "pooling"])}
    paper = None
    if result.paper_mteb is not None:
        paper = {st: dict(zip(g["task"], g["score"])) for st, g in result.paper_mteb.groupby("strategy")}
    tuned = None
    if result.finetune is not None:
        tuned = {st: {str(steps): {t: g.sort_values("seed")["score"].tolist() for t, g in by_step.groupby("task")}
                      for steps, by_step in by.groupby("steps")} for st, by in result.finetune.groupby("strategy")}
    cause = None
    if result.cause is not None:
        cause = {st: {m: g.sort_values("seed")["value"].tolist() for m, g in by.groupby("measure")}
                 for st, by in result.cause.groupby("strategy")}
    return {"seeds": result.settings.seeds, "tuning_seeds": list(TUNING_SEEDS), "whole_sentence_cause": cause,
            "finetune": tuned,
            "causal_lm": result.lm_name, "scores": _by_key(result.scores),
            "late_triplet_diagnostics": late_diag, "train_loss": result.train_loss,
            "mteb_check": result.mteb_check, "paper_mteb": paper}


def _mean(values) -> float:
    return float(np.mean(values))


def _causal_limit(lm: dict, diag: dict) -> Claim:
    accs = {p: lm["classical"][p]["late_triplet"] for p in ("mean", "last")}
    margin = max(max(diag[f"classical/{p}"]["max_abs_margin"]) for p in ("mean", "last"))
    ties = min(min(diag[f"classical/{p}"]["tie_fraction"]) for p in ("mean", "last"))
    return check("causal-limit", "Classical embeddings of a causal LM pooled over early tokens cannot "
                 "see later tokens: on triplets that differ only late, every triplet ties (score 1/2)",
                 "architectural limit of causal attention (Sec. 3); toy: classical fails",
                 f"classical, early span: mean pooling {mean_std(accs['mean'], digits=3)}, last "
                 f"{mean_std(accs['last'], digits=3)}; ties {ties:.0%} of triplets, max |cos(q,s+) - "
                 f"cos(q,s-)| = {margin:.1e} (need 100% and < {MAX_TIE_MARGIN:.0e})",
                 ties == 1.0 and margin < MAX_TIE_MARGIN)


def _classical_probe(lm: dict) -> Claim:
    classical = lm["classical"]["mean"]["concept_probe"]
    return check("classical-probe-at-chance", "A linear probe cannot read the late concept from "
                 "classical early-span embeddings (they do not depend on it)",
                 "causal attention (Sec. 3)",
                 f"probe accuracy {mean_std(classical, digits=3)} (chance {CHANCE_PROBE:.3f}; need every "
                 f"seed ≤ {PROBE_CLASSICAL_MAX:.3f})", max(classical) <= PROBE_CLASSICAL_MAX)


def _echo_triplet(lm: dict) -> Claim:
    echo = lm["echo"]["mean"]["late_triplet"]
    return finding("echo-sees-late", "Echo embeddings of the same early tokens (second occurrence) "
                   "reflect the late words", "toy: echo succeeds where classical fails (Sec. 3)",
                   f"echo, early span, mean pooling {mean_std(echo, digits=3)} (last "
                   f"{mean_std(lm['echo']['last']['late_triplet'], digits=3)}); need ≥ {ECHO_MIN_TRIPLET}",
                   on_mean=_mean(echo) >= ECHO_MIN_TRIPLET, per_seed=[v >= ECHO_MIN_TRIPLET for v in echo],
                   expect=EXPECTED["echo-sees-late"])


def _echo_probe(lm: dict) -> Claim:
    echo = lm["echo"]["mean"]["concept_probe"]
    return finding("echo-probe-late-concept", "A linear probe recovers the late concept from echo "
                   "early-span embeddings", "early-token echo embeddings encode later tokens (Sec. 3)",
                   f"probe accuracy {mean_std(echo, digits=3)} (chance {CHANCE_PROBE:.3f}); need ≥ "
                   f"{PROBE_ECHO_MIN}", on_mean=_mean(echo) >= PROBE_ECHO_MIN,
                   per_seed=[v >= PROBE_ECHO_MIN for v in echo], expect=EXPECTED["echo-probe-late-concept"])


def _whole_sentence(lm: dict) -> Claim:
    classical = {t: np.asarray(lm["classical"]["mean"][t]) for t in WHOLE_TASKS}
    echo = {t: np.asarray(lm["echo"]["mean"][t]) for t in WHOLE_TASKS}
    per_seed = np.all([echo[t] >= classical[t] for t in WHOLE_TASKS], axis=0)
    parts = [f"{t}: classical {classical[t].mean():.3f} vs echo {echo[t].mean():.3f}" for t in WHOLE_TASKS]
    return finding("whole-sentence-gain", "Echo whole-sentence embeddings are at least as good as "
                   "classical ones downstream (hard triplet, STS, retrieval; mean pooling)", PAPER_MTEB,
                   "; ".join(parts) + " (need echo ≥ classical on all three)",
                   on_mean=all(echo[t].mean() >= classical[t].mean() for t in WHOLE_TASKS),
                   per_seed=per_seed.tolist(), expect=EXPECTED["whole-sentence-gain"])


def _cause(cause: dict) -> Claim:
    echo, classical = cause["echo"], cause["classical"]
    late, early = echo["accuracy: late words"], echo["accuracy: early words"]
    ratio = [e / c for e, c in zip(echo["spread: early / late"], classical["spread: early / late"])]
    per_seed = [a >= CAUSE_LATE_MIN and b <= CAUSE_EARLY_MAX and r >= CAUSE_SPREAD_RATIO
                for a, b, r in zip(late, early, ratio)]
    return finding("whole-sentence-cause", "Echo's whole-sentence result comes from copying: pooled over "
                   "the second copy's late words echo picks the positive of the hard triplet, over its early "
                   "words the negative (which shares them), and its early-word states vary across sentences "
                   "far more, relative to its late-word states, than classical ones do",
                   "— (this book's diagnosis; the paper's large LMs do not show the failure)",
                   f"hard triplet, echo second copy: late words {mean_std(late, digits=3)} (≥ {CAUSE_LATE_MIN}), "
                   f"early words {mean_std(early, digits=3)} (≤ {CAUSE_EARLY_MAX}); early/late spread echo "
                   f"{mean_std(echo['spread: early / late'], digits=2)} vs classical "
                   f"{mean_std(classical['spread: early / late'], digits=3)} (×{np.mean(ratio):.0f}, need "
                   f"×{CAUSE_SPREAD_RATIO:.0f}); echo copies {mean_std(echo['copy accuracy'], digits=2)} "
                   "of the second copy's tokens exactly",
                   on_mean=(_mean(late) >= CAUSE_LATE_MIN and _mean(early) <= CAUSE_EARLY_MAX
                            and _mean(ratio) >= CAUSE_SPREAD_RATIO),
                   per_seed=per_seed, expect=EXPECTED["whole-sentence-cause"])


def _ft_end(tuned: dict) -> tuple[dict, dict, str]:
    end = str(max(int(k) for k in tuned["echo"]))
    echo = {t: np.asarray(tuned["echo"][end][t]) for t in WHOLE_TASKS}
    classical = {t: np.asarray(tuned["classical"][end][t]) for t in WHOLE_TASKS}
    return echo, classical, end


def _ft_text(echo: dict, classical: dict, end: str) -> str:
    parts = [f"{t}: classical {classical[t].mean():.3f} vs echo {echo[t].mean():.3f}" for t in WHOLE_TASKS]
    return f"after {end} steps: " + "; ".join(parts)


def _ft_closes(tuned: dict) -> Claim:
    echo, classical, end = _ft_end(tuned)
    per_seed = np.all([echo[t] >= classical[t] - FT_TOLERANCE for t in WHOLE_TASKS], axis=0)
    zero = {t: np.mean(tuned["classical"]["0"][t]) - np.mean(tuned["echo"]["0"][t]) for t in WHOLE_TASKS}
    return finding("ft-closes-gap", "After the same contrastive fine-tuning (same concept pairs, same steps) "
                   "echo embeddings are no worse than classical ones on the whole-sentence tasks (within "
                   f"{FT_TOLERANCE})", "after fine-tuning, echo +0.7% over classical (MTEB average)",
                   _ft_text(echo, classical, end) + f" (need echo ≥ classical − {FT_TOLERANCE} on all three; "
                   f"before fine-tuning classical led by up to {max(zero.values()):.2f})",
                   on_mean=all(echo[t].mean() >= classical[t].mean() - FT_TOLERANCE for t in WHOLE_TASKS),
                   per_seed=per_seed.tolist(), expect=EXPECTED["ft-closes-gap"])


def _ft_ahead(tuned: dict) -> Claim:
    echo, classical, end = _ft_end(tuned)
    gains = np.mean([echo[t] / classical[t] - 1 for t in WHOLE_TASKS], axis=0)  # per seed
    mean_gain = float(np.mean([echo[t].mean() / classical[t].mean() - 1 for t in WHOLE_TASKS]))
    return finding("ft-echo-ahead", "After the same contrastive fine-tuning echo embeddings beat classical "
                   "ones by at least half the paper's +0.7% (relative, mean over the three tasks)",
                   "after fine-tuning, echo +0.7% over classical (MTEB average)",
                   _ft_text(echo, classical, end) + f" ({mean_gain:+.2%}; need ≥ {FT_MIN_GAIN:+.2%})",
                   on_mean=mean_gain >= FT_MIN_GAIN, per_seed=(gains >= FT_MIN_GAIN).tolist(),
                   expect=EXPECTED["ft-echo-ahead"])


def _mteb_agrees(mteb_check: dict) -> Claim:
    gaps = [abs(v - mteb_check["ours"][st][t]) for st, tasks in mteb_check["mteb"].items()
            for t, v in tasks.items()]
    return check("mteb-agrees", "The mteb package scores our embeddings exactly as our own metrics do "
                 "(STS Spearman, retrieval nDCG@10; first seed)", "evaluation plumbing of the paper preset",
                 f"largest difference {max(gaps):.1e} over {len(gaps)} scores (need < {MTEB_AGREEMENT:.0e})",
                 max(gaps) < MTEB_AGREEMENT)


def _mteb_gain(paper: dict) -> Claim:
    classical, echo = _mean(list(paper["classical"].values())), _mean(list(paper["echo"].values()))
    gain = echo / classical - 1
    return finding("mteb-zero-shot-gain", "Zero-shot echo embeddings beat classical ones on MTEB tasks "
                   "by at least half the paper's +9%", PAPER_MTEB,
                   f"average main score over {len(paper['echo'])} tasks: classical {classical:.4f} vs "
                   f"echo {echo:.4f} ({gain:+.1%}; need ≥ {MTEB_MIN_GAIN:+.1%})",
                   on_mean=gain >= MTEB_MIN_GAIN, per_seed=[gain >= MTEB_MIN_GAIN],
                   expect=PAPER_EXPECTED["mteb-zero-shot-gain"])


def judge_claims(m: dict) -> list[Claim]:
    """Findings (in ``EXPECTED`` order, then the paper-only MTEB row), then checks."""
    lm = m["scores"][m["causal_lm"]]
    claims = [_echo_triplet(lm), _echo_probe(lm), _whole_sentence(lm)]
    if m.get("whole_sentence_cause") is not None:  # the tiny LM only (its <sep> templates)
        claims.append(_cause(m["whole_sentence_cause"]))
    if m.get("finetune") is not None:
        claims += [_ft_closes(m["finetune"]), _ft_ahead(m["finetune"])]
    if m["paper_mteb"] is not None:
        claims.append(_mteb_gain(m["paper_mteb"]))
    claims += [_causal_limit(lm, m["late_triplet_diagnostics"]), _classical_probe(lm)]
    if m["mteb_check"] is not None:
        claims.append(_mteb_agrees(m["mteb_check"]))
    return claims
