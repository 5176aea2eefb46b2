"""GPU check for chapter 01 (run on a CUDA machine; not a test). Two parts:

A. Cost of one training step of the paper's network (ResNet-18 with GroupNorm, CIFAR-shaped
   batch of 128) for SGD, the SAM optimizer, mini-batch SAM / L-SAM / J-SAM, 1-SAM (per-example,
   vmap) and SGD + penalties, and the projected time of the paper's 200-epoch run.
B. The chapter's paper path end to end on CUDA: CIFAR-10 files in the real pickle format (random
   pixels and labels written here, since no dataset can be fetched), ``n_train`` examples, every
   method for ``epochs`` epochs with the paper's settings (1-SAM, rho = 0.01, 30% noise).
   Accuracies are meaningless on random data; the timings are the point.

    PYTHONPATH=lib python3 bench/gpu_sam.py --out results/gpu
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from bench import sam_family_builders, sync_device, time_steps  # bench/bench.py, beside this file

from robustbook.chapters.sam_label_noise import Config, experiments
from robustbook.data.cifar import write_cifar10_batch
from robustbook.models import resnet18_gn

STEPS_PER_EPOCH = 50_000 // 128 + 1


def step_costs(device: torch.device, batch: int, repeats: int) -> pd.DataFrame:
    """Step costs of the paper's network with the paper's rho and lr, and the 200-epoch projection."""
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    table = time_steps(sam_family_builders(rho=0.01, lr=0.01, chunk_size=32), lambda: resnet18_gn(10),
                       x, y, repeats, device)
    table["200 epochs of CIFAR-10 (h)"] = table["ms/step"] / 1e3 * STEPS_PER_EPOCH * 200 / 3600
    return table


def paper_path(device: torch.device, n_train: int, n_test: int, epochs: int, methods: list[str]) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cifar-10-batches-py"
        folder.mkdir()
        rng = np.random.default_rng(0)
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            n = n_test if name == "test_batch" else max(1, n_train // 5)
            write_cifar10_batch(folder / name, rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
                                rng.integers(0, 10, n))
        s = Config(preset="paper", data_dir=tmp, n_train=n_train, epochs=epochs, device=str(device)).resolve()
        split = experiments.load_split(s, 0)
        rows = []
        for method in methods:
            start = time.perf_counter()
            frame = experiments.train_one(method, split, s, 0, device)
            sync_device(device)
            seconds = time.perf_counter() - start
            rows.append({"method": method, "sam_mode": s.sam_mode, "n_train": n_train, "epochs": epochs,
                         "seconds": seconds, "s per epoch": seconds / epochs,
                         "projected 200 epochs x 50k (h)": seconds / epochs * 50_000 / n_train * 200 / 3600,
                         "final test acc (random labels)": float(frame["test_acc"].iloc[-1])})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/gpu"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--n-train", type=int, default=5120)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    device = torch.device(args.device)
    pd.set_option("display.width", 200)
    info = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    print(f"device: {info}, torch {torch.__version__}", flush=True)
    steps = step_costs(device, args.batch, args.repeats)
    print("\nA. ResNet-18 (GroupNorm), batch", args.batch, "\n" + steps.to_string(index=False, float_format="%.2f"), flush=True)
    paper = paper_path(device, args.n_train, args.n_test, args.epochs, list(experiments.DEEP_METHODS))
    print("\nB. chapter 01 paper path on CIFAR-format files\n" + paper.to_string(index=False, float_format="%.2f"))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_sam.json").write_text(json.dumps(
        {"device": info, "torch": torch.__version__, "steps": steps.to_dict(orient="records"),
         "paper_path": paper.to_dict(orient="records")}, indent=2))


if __name__ == "__main__":
    main()
