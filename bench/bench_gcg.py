"""Benchmark (not a test): GCG throughput on chapter 04's tiny chat model (preset cpu sizes).

    python bench/bench_gcg.py            # pretrains one tiny chat LM, DPO, then times GCG

Prints candidates scored per second (batched forward passes of n_candidates) and the attack's wall
time per held-out question, for plain GCG and for the perplexity-adaptive variant.
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from robustbook.chapters.purple_problem import Config, attacks, experiments


def main(seed: int = 0) -> pd.DataFrame:
    torch.set_num_threads(1)
    s = Config(n_attack_prompts=4, adaptive_prompts=2).resolve()
    device = torch.device("cpu")
    start = time.perf_counter()
    subject = experiments.train_subject(s, seed, device, progress=False)
    build = time.perf_counter() - start
    threshold = experiments.defense_metrics(subject, s)["ppl_threshold"]
    rows = []
    for adaptive in (False, True):
        attack_rows, _ = attacks.run_attack(subject, s, seed, threshold, adaptive)
        for r in attack_rows:
            rows.append({"attack": r["attack"], "question": r["question"], "success": r["attack_success"],
                         "steps": r["steps"], "candidates": r["candidates"], "wall (s)": round(r["seconds"], 2),
                         "candidates per s": round(r["candidates"] / r["seconds"])})
    table = pd.DataFrame(rows)
    print(f"pretraining + DPO: {build:.1f} s")
    print(table.to_string(index=False))
    print(table.groupby("attack")[["candidates", "wall (s)"]].sum().assign(
        **{"candidates per s": lambda t: (t["candidates"] / t["wall (s)"]).round()}))
    return table


if __name__ == "__main__":
    main()
