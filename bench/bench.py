"""Benchmarks (not tests): chapter wall time at preset cpu, and per-step costs of the SAM family.

    make bench                      # runs every written chapter once (fresh), then the step timings
    python bench/bench.py --reuse   # read chapter times from book/chapters/ instead of re-running

Prints tables; writes nothing into the book.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import pandas as pd
import torch
import torch.nn.functional as F

from robustbook.book.runner import execute_chapter, project_root
from robustbook.chapters import implemented
from robustbook.models import MLP
from robustbook.optim import SAM
from robustbook.optim.penalties import make_penalized_step
from robustbook.optim.sam_family import make_family_step
from robustbook.train import standard_step


def chapter_times(reuse: bool) -> pd.DataFrame:
    root, rows = project_root(), []
    with tempfile.TemporaryDirectory() as tmp:
        for info in implemented():
            if reuse:
                path = root / "book" / "chapters" / f"{info.stem}.results.json"
                record, total = json.loads(path.read_text()), None
            else:
                outcome = execute_chapter(info.slug, {}, tmp, force=True, root=root)
                if not outcome.ok:
                    print(outcome.error, file=sys.stderr)
                    continue
                record, total = json.loads(outcome.results.read_text()), outcome.seconds
            rows.append({"chapter": info.stem, "preset": record["params"]["preset"],
                         "chapter wall (s)": record["wall_s"],
                         "with kernel start (s)": total if total is not None else record.get("runner_wall_s"),
                         "budget (s)": 180})
    return pd.DataFrame(rows)


def _time_step(step, x, y, repeats: int) -> float:
    for _ in range(5):
        step(x, y)
    start = time.perf_counter()
    for _ in range(repeats):
        step(x, y)
    return (time.perf_counter() - start) / repeats


def _sam_optimizer_step(model):
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.5, lr=0.05, momentum=0.9, weight_decay=5e-4)

    def step(x, y):
        F.cross_entropy(model(x), y).backward()
        opt.first_step(zero_grad=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.second_step(zero_grad=True)
        return loss.item()

    return step


def step_costs(repeats: int = 300, threads: int = 1) -> pd.DataFrame:
    """Seconds per training step on chapter 01's network (MLP 64-256-10, batch 32), and the ratio
    to one SGD step. The floor for SAM is 2x (two forward-backward passes)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = torch.randn(32, 64), torch.randint(0, 10, (32,))

    def opt(m):
        return torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)

    def family(variant, per_example):
        return lambda m: make_family_step(m, opt(m), F.cross_entropy, variant=variant, rho=0.5,
                                          per_example=per_example)

    builders = {
        "SGD (plain torch loop)": lambda m: standard_step(m, opt(m), F.cross_entropy),
        "SAM optimizer (first_step/second_step)": _sam_optimizer_step,
        "SGD via family_gradient": family("sgd", False),
        "SAM, mini-batch (family_gradient)": family("sam", False),
        "L-SAM, mini-batch": family("lsam", False),
        "J-SAM, mini-batch": family("jsam", False),
        "SAM, 1-SAM per-example (vmap)": family("sam", True),
        "J-SAM, 1-SAM per-example (vmap)": family("jsam", True),
        "SGD + J-SAM penalties": lambda m: make_penalized_step(m, opt(m), F.cross_entropy,
                                                              weight_penalty=0.1, feature_penalty=0.01),
    }
    rows = [{"step": name, "ms/step": 1e3 * _time_step(build(MLP(64, 256, 10)), x, y, repeats)}
            for name, build in builders.items()]
    table = pd.DataFrame(rows)
    table["x SGD"] = table["ms/step"] / table["ms/step"].iloc[0]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="read chapter times from book/chapters")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    pd.set_option("display.width", 160)
    print("Chapter wall time, preset cpu\n" + chapter_times(args.reuse).to_string(index=False))
    print(f"\nStep cost on chapter 01's network (MLP 64-256-10, batch 32, {args.threads} thread)\n"
          + step_costs(threads=args.threads).to_string(index=False, float_format="%.2f"))


if __name__ == "__main__":
    main()
