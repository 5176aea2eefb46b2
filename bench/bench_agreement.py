"""Benchmark (not a test): batched ensemble training (robustbook.ensembles.train_batched, one
vmapped step for all K heads) against a Python loop of K separate models with torch.optim.SGD.

    python bench/bench_agreement.py                 # K in 6, 24, 72; 1 thread
    python bench/bench_agreement.py --threads 2 --epochs 4 --models 24 72

Work per model: linear heads over 128-d features of 1,198 examples (chapter 03's cpu shapes),
batch 32, the given number of epochs. Prints one table row per K; writes nothing.
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from robustbook.chapters.agreement_foundation import Config
from robustbook.chapters.agreement_foundation.experiments import speed_check


def benchmark(models: list[int], epochs: int, threads: int, repeats: int) -> pd.DataFrame:
    """One row per K: best-of-``repeats`` seconds batched and looped, speed-up, max |Δparam|."""
    torch.set_num_threads(threads)
    rows = []
    for k in models:
        settings = Config(n_models=k).resolve()
        runs = [speed_check(settings, seed=0, epochs=epochs) for _ in range(repeats)]
        frame = pd.concat(runs)
        rows.append({"models K": k, "threads": threads, "steps per model": int(frame["steps per model"].iloc[0]),
                     "batched (s)": frame["batched_s"].min(), "loop (s)": frame["looped_s"].min(),
                     "speed-up (loop / batched)": frame["looped_s"].min() / frame["batched_s"].min(),
                     "max |param diff|": frame["max_param_diff"].max()})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, nargs="+", default=[6, 24, 72])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    table = benchmark(args.models, args.epochs, args.threads, args.repeats)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
