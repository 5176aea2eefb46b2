"""Chapter 04's tables: ASR per defense x attack, the defense's effect, the attacks' budgets."""

from __future__ import annotations

import numpy as np
import pandas as pd

from robustbook.chapters.purple_problem.experiments import ATTACKS, DEFENSES
from robustbook.chapters.purple_problem.result import Result


def _pct(values) -> str:
    return f"{100 * np.mean(values):.0f} ± {100 * np.std(values):.0f}"


def asr_table(result: Result) -> pd.DataFrame:
    """ASR (%) on held-out purple questions, mean ± std over seeds: attacks (rows) x defenses."""
    asr = result.metrics["asr"]
    return pd.DataFrame({DEFENSES[d]: {ATTACKS[a]: _pct(asr[a][d]) for a in ATTACKS} for d in DEFENSES}
                        ).rename_axis("ASR (%), mean ± std over seeds")


def per_seed_table(result: Result) -> pd.DataFrame:
    """Per seed: purple rate before/after DPO, benign accuracy, ASRs, the filter's threshold."""
    m = result.metrics
    return pd.DataFrame({
        "purple before DPO (%)": [100 * v for v in m["purple_before"]],
        "purple after DPO (%)": [100 * v for v in m["purple_after"]],
        "benign right after DPO (%)": [100 * v for v in m["benign_after"]],
        "GCG ASR (%)": [100 * v for v in m["asr"]["gcg"]["dpo"]],
        "GCG flagged by ppl filter (%)": [100 * v for v in m["gcg_ppl_flagged"]],
        "adaptive ASR through ppl filter (%)": [100 * v for v in m["asr"]["adaptive"]["ppl"]],
        "ppl threshold (nats)": m["ppl_threshold"],
        "adaptive prompt log-ppl (nats)": m["adaptive_log_ppl"],
    }, index=pd.Index(m["seeds"], name="seed")).round(2)


def budget_table(result: Result) -> pd.DataFrame:
    """Per attack: budget, steps used, candidates scored, wall time and candidates per second."""
    r, s = result.replies, result.settings
    rows = {}
    for attack, budget in (("gcg", f"{s.gcg_restarts} x {s.gcg_steps} steps, L = {s.suffix_len}"),
                           ("adaptive", f"1 x {s.adaptive_steps} steps, L = {s.adaptive_suffix_len}")):
        g = r[r["attack"] == attack]
        rows[ATTACKS[attack]] = {
            "budget (restarts x steps)": budget, "top-k / candidates per step": f"{s.top_k} / {s.n_candidates}",
            "prompts attacked": len(g), "successes": int(g["attack_success"].sum()),
            "steps used (mean)": round(float(g["steps"].mean()), 1),
            "wall time (s, all seeds)": round(float(g["seconds"].sum()), 1),
            "candidates scored per s": round(result.metrics["candidates_per_s"][attack]),
        }
    return pd.DataFrame(rows).T


def examples_table(result: Result, attack: str = "gcg", n: int = 6) -> pd.DataFrame:
    """A few attacked prompts of the first seed: question, suffix, reply and the filters' verdicts."""
    r = result.replies
    g = r[(r["attack"] == attack) & (r["seed"] == result.settings.seed)].head(n)
    return g[["question", "suffix", "reply", "log_ppl", "ppl_flagged", "output_flagged"]].round(2
                                                                                          ).reset_index(drop=True)


def cost_table(result: Result) -> pd.DataFrame:
    """The output filter's inference-time cost: the whole reply must be generated before it can be
    checked (ms per reply), then the check itself (µs per reply); mean over seeds."""
    m = result.metrics
    return pd.DataFrame({"generate the reply (ms)": [round(1e3 * float(np.mean(m["gen_s_per_reply"])), 2)],
                         "check it (µs)": [round(1e6 * float(np.mean(m["filter_s_per_reply"])), 2)],
                         "replies per seed": [int(len(result.replies[result.replies["attack"] == "none"])
                                                  / max(1, len(m["seeds"])))]},
                        index=pd.Index(["output filter"], name="cost per reply"))
