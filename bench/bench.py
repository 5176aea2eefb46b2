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

from robustbook.chapters import implemented
from robustbook.models import MLP
from robustbook.optim import SAM
from robustbook.optim.penalties import make_penalized_step
from robustbook.optim.sam_family import make_family_step
from robustbook.runner import execute_chapter, project_root
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


def sync_device(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time_step(step, x, y, repeats: int, device: torch.device) -> float:
    for _ in range(3):
        step(x, y)
    sync_device(device)
    start = time.perf_counter()
    for _ in range(repeats):
        step(x, y)
    sync_device(device)
    return (time.perf_counter() - start) / repeats


def sam_family_builders(rho: float, lr: float, chunk_size: int | None = None) -> dict:
    """{name: build(model) -> step(x, y)} for SGD, the SAM optimizer, the SAM-family variants
    (mini-batch and 1-SAM) and SGD + penalties, all with SGD(momentum 0.9, weight decay 5e-4)."""

    def opt(m):
        return torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)

    def sam_optimizer(m):
        sam = SAM(m.parameters(), torch.optim.SGD, rho=rho, lr=lr, momentum=0.9, weight_decay=5e-4)

        def step(x, y):
            F.cross_entropy(m(x), y).backward()
            sam.first_step(zero_grad=True)
            F.cross_entropy(m(x), y).backward()
            sam.second_step(zero_grad=True)

        return step

    def family(variant, per_example):
        return lambda m: make_family_step(m, opt(m), F.cross_entropy, variant=variant, rho=rho,
                                          per_example=per_example, chunk_size=chunk_size)

    return {
        "SGD": lambda m: standard_step(m, opt(m), F.cross_entropy),
        "SAM optimizer (first_step/second_step)": sam_optimizer,
        "SAM, mini-batch (family_gradient)": family("sam", False),
        "L-SAM, mini-batch": family("lsam", False),
        "J-SAM, mini-batch": family("jsam", False),
        "SAM, 1-SAM per example (vmap)": family("sam", True),
        "J-SAM, 1-SAM per example (vmap)": family("jsam", True),
        "SGD + J-SAM penalties": lambda m: make_penalized_step(m, opt(m), F.cross_entropy,
                                                              weight_penalty=0.1, feature_penalty=0.01),
    }


def time_steps(builders: dict, make_model, x: torch.Tensor, y: torch.Tensor, repeats: int,
               device: torch.device | None = None) -> pd.DataFrame:
    """Milliseconds per step of each builder on a fresh ``make_model()``, and the ratio to the
    first row (SGD). The floor for SAM is 2x (two forward-backward passes)."""
    device = device or torch.device("cpu")
    rows = []
    for name, build in builders.items():
        torch.manual_seed(0)
        seconds = _time_step(build(make_model().to(device)), x, y, repeats, device)
        rows.append({"step": name, "ms/step": 1e3 * seconds})
    table = pd.DataFrame(rows)
    table["x SGD"] = table["ms/step"] / table["ms/step"].iloc[0]
    return table


def step_costs(repeats: int = 300, threads: int = 1) -> pd.DataFrame:
    """Step costs on chapter 01's network (MLP 64-256-10, batch 32) at its cpu settings."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = torch.randn(32, 64), torch.randint(0, 10, (32,))
    return time_steps(sam_family_builders(rho=0.5, lr=0.05), lambda: MLP(64, 256, 10), x, y, repeats)


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
