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
import torch.nn.functional as F

from robustbook.chapters.sam_label_noise import Config, experiments
from robustbook.data.cifar import write_cifar10_batch
from robustbook.models import resnet18_gn
from robustbook.optim import SAM
from robustbook.optim.penalties import make_penalized_step
from robustbook.optim.sam_family import make_family_step
from robustbook.train import standard_step

STEPS_PER_EPOCH = 50_000 // 128 + 1


def _sam_optimizer_step(model):
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.01, lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step(x, y):
        F.cross_entropy(model(x), y).backward()
        opt.first_step(zero_grad=True)
        F.cross_entropy(model(x), y).backward()
        opt.second_step(zero_grad=True)

    return step


def step_costs(device: torch.device, batch: int, repeats: int) -> pd.DataFrame:
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def opt(m):
        return torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def family(variant, per_example):
        return lambda m: make_family_step(m, opt(m), F.cross_entropy, variant=variant, rho=0.01,
                                          per_example=per_example, chunk_size=32)

    builders = {
        "SGD": lambda m: standard_step(m, opt(m), F.cross_entropy),
        "SAM optimizer (mini-batch)": _sam_optimizer_step,
        "SAM, mini-batch (family)": family("sam", False),
        "L-SAM, mini-batch": family("lsam", False),
        "J-SAM, mini-batch": family("jsam", False),
        "SAM, 1-SAM (vmap, chunks of 32)": family("sam", True),
        "J-SAM, 1-SAM (vmap, chunks of 32)": family("jsam", True),
        "SGD + J-SAM penalties": lambda m: make_penalized_step(m, opt(m), F.cross_entropy,
                                                              weight_penalty=0.1, feature_penalty=0.01),
    }
    rows = []
    for name, build in builders.items():
        torch.manual_seed(0)
        step = build(resnet18_gn(10).to(device))
        for _ in range(3):
            step(x, y)
        _sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            step(x, y)
        _sync(device)
        seconds = (time.perf_counter() - start) / repeats
        rows.append({"step": name, "ms/step": 1e3 * seconds,
                     "200 epochs of CIFAR-10 (h)": seconds * STEPS_PER_EPOCH * 200 / 3600})
    table = pd.DataFrame(rows)
    table.insert(2, "x SGD", table["ms/step"] / table["ms/step"].iloc[0])
    return table


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


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
            _sync(device)
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
