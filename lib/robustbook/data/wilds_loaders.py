"""WILDS Camelyon17 (Koh et al., 2021) read from ``data_dir`` in the layout the ``wilds`` package
downloads (``camelyon17_v1.0/metadata.csv`` and ``patches/.../*.png``), without importing
``wilds`` itself (it pulls ogb and a version check that needs the network).

Domains follow the WILDS split by hospital (``center``): source = hospitals 0-2 (the WILDS train
split), target = hospital 4 (the WILDS test split). The target patches are split at random into an
unlabelled half (used for contrastive pretraining and self-training) and a labelled test half.
``write_fake_camelyon17`` writes tiny files in the same format for tests.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from robustbook._checks import check_int
from robustbook.data.spurious import ShiftSplit

CAMELYON_DIR = "camelyon17_v1.0"
COLUMNS = ("", "patient", "node", "x_coord", "y_coord", "tumor", "slide", "center", "split")
SOURCE_CENTERS, TARGET_CENTER = (0, 1, 2), 4


def patch_path(row: dict) -> str:
    p, n = int(row["patient"]), int(row["node"])
    return (f"patches/patient_{p:03d}_node_{n}/patch_patient_{p:03d}_node_{n}"
            f"_x_{int(row['x_coord'])}_y_{int(row['y_coord'])}.png")


def wilds_root(data_dir: str | Path | None, folder: str, dataset: str, layout: tuple[str, ...],
               required: tuple[str, ...] = ("metadata.csv",)) -> Path:
    """``data_dir/folder`` of a WILDS dataset in the layout the ``wilds`` package downloads, or
    FileNotFoundError naming what is missing and where it goes. ``layout``: the entries the error
    lists (e.g. "metadata.csv", "patches/"); ``required``: the ones checked here."""
    listed = " and ".join(layout)
    if data_dir is None:
        raise FileNotFoundError(f"preset paper needs data_dir: a folder holding {folder}/ "
                                f"({listed}, as downloaded by the wilds package)")
    root = Path(data_dir) / folder
    for need in required:
        if not (root / need).exists():
            raise FileNotFoundError(f"missing {root / need}: put the WILDS {dataset} dataset "
                                    f"({', '.join(f'{folder}/{e}' for e in layout)}) under data_dir={data_dir}")
    return root


def read_metadata(root: Path) -> list[dict]:
    """The rows of a WILDS dataset's ``metadata.csv``."""
    with open(root / "metadata.csv", newline="") as f:
        return list(csv.DictReader(f))


def check_camelyon17(data_dir: str | Path | None) -> Path:
    """The dataset folder, or FileNotFoundError naming what is missing and where it goes."""
    return wilds_root(data_dir, CAMELYON_DIR, "Camelyon17 v1.0", ("metadata.csv", "patches/"))


def _load(root: Path, rows: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    missing = [r for r in rows if not (root / patch_path(r)).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} patches missing under {root}, e.g. {patch_path(missing[0])}")
    images = np.stack([np.asarray(Image.open(root / patch_path(r)).convert("RGB")) for r in rows])
    x = torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    return x, torch.as_tensor([int(r["tumor"]) for r in rows], dtype=torch.long)


def load_camelyon17_shift(data_dir: str | Path | None, *, max_per_domain: int | None,
                          generator: torch.Generator) -> ShiftSplit:
    """Source (hospitals 0-2, labelled), unlabelled target and target test (hospital 4), each at
    most ``max_per_domain`` patches drawn at random. Images (N, 3, 96, 96) in [0, 1]."""
    if max_per_domain is not None:
        check_int("max_per_domain", max_per_domain)
    root = check_camelyon17(data_dir)
    rows = read_metadata(root)
    source = [r for r in rows if int(r["center"]) in SOURCE_CENTERS]
    target = [r for r in rows if int(r["center"]) == TARGET_CENTER]
    if not source or not target:
        raise ValueError(f"{root / 'metadata.csv'} needs patches of centers {SOURCE_CENTERS} and {TARGET_CENTER}")

    def pick(items: list[dict], n: int | None) -> list[dict]:
        order = torch.randperm(len(items), generator=generator).tolist()
        return [items[i] for i in order[: n or len(items)]]

    source, target = pick(source, max_per_domain), pick(target, None if max_per_domain is None else 2 * max_per_domain)
    half = len(target) // 2
    return ShiftSplit(*_load(root, source), *_load(root, target[:half]), *_load(root, target[half:]))


def write_fake_camelyon17(data_dir: str | Path, n_per_center: int, size: int = 96, seed: int = 0) -> Path:
    """Random patches of every center 0-4 in the real layout (metadata.csv + PNG files)."""
    root = Path(data_dir) / CAMELYON_DIR
    rng = np.random.default_rng(seed)
    rows = []
    for center in range(5):
        for i in range(n_per_center):
            rows.append({"": len(rows), "patient": 10 * center + i % 2, "node": i % 5, "x_coord": 100 + i,
                         "y_coord": 200 + i, "tumor": int(rng.integers(0, 2)), "slide": center,
                         "center": center, "split": 0 if center < 3 else 1})
    for row in rows:
        path = root / patch_path(row)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return root
