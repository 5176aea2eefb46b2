"""WILDS iWildCam v2.0 (Beery et al., 2021; Koh et al., 2021) read from ``data_dir`` in the layout
the ``wilds`` package downloads: ``iwildcam_v2.0/metadata.csv`` (columns ``split``, ``filename``,
``y``, ...) and the images under ``iwildcam_v2.0/train/<filename>`` — without importing ``wilds``.

Splits: ``train`` (ID training), ``id_val``, ``id_test`` (same camera traps), ``val`` (OOD
validation: other traps) and ``test`` (OOD test: yet other traps). AutoFT validates on a
class-balanced subset of ``val`` (:func:`balanced_subset`). ``write_fake_iwildcam`` writes tiny
files in the same format for tests.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from robustbook.data.wilds_loaders import read_metadata, wilds_root

IWILDCAM_DIR = "iwildcam_v2.0"
SPLITS = ("train", "id_val", "id_test", "val", "test")
COLUMNS = ("", "split", "location_remapped", "filename", "y", "datetime")


def check_iwildcam(data_dir: str | Path | None) -> Path:
    """The dataset folder, or FileNotFoundError naming what is missing and where it goes."""
    return wilds_root(data_dir, IWILDCAM_DIR, "iWildCam v2.0", ("metadata.csv", "train/"),
                      required=("metadata.csv", "train"))


def balanced_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of at most ``n`` examples, as equal a share per class as the classes allow
    (round-robin over classes in a seeded random order), sorted."""
    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(np.flatnonzero(labels == c))) for c in np.unique(labels)]
    out: list[int] = []
    while len(out) < n and any(pools):
        for pool in pools:
            if pool and len(out) < n:
                out.append(int(pool.pop()))
    return np.sort(np.array(out, dtype=np.int64))


def load_split(data_dir: str | Path | None, split: str, *, size: int, max_n: int | None = None,
               balanced: bool = False, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 3, size, size) and labels (N,) of one split; at most ``max_n`` of them
    (the first ones, or a class-balanced draw when ``balanced``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = check_iwildcam(data_dir)
    rows = [r for r in read_metadata(root) if r["split"] == split]
    if not rows:
        raise ValueError(f"{root / 'metadata.csv'} has no rows of split {split!r}")
    labels = np.array([int(r["y"]) for r in rows])
    keep = (balanced_subset(labels, max_n, seed) if balanced and max_n
            else np.arange(min(len(rows), max_n or len(rows))))
    missing = [rows[i]["filename"] for i in keep if not (root / "train" / rows[i]["filename"]).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} images missing under {root / 'train'}, e.g. {missing[0]}")
    images = np.stack([np.asarray(Image.open(root / "train" / rows[i]["filename"]).convert("RGB")
                                  .resize((size, size), Image.BICUBIC)) for i in keep])
    return torch.as_tensor(images).permute(0, 3, 1, 2).contiguous(), torch.as_tensor(labels[keep])


def write_fake_iwildcam(data_dir: str | Path, n_per_split: int, n_classes: int = 4,
                        size: int = 40, seed: int = 0) -> Path:
    """Random JPEG images of every split in the real layout (metadata.csv + train/*.jpg); labels
    skewed like the real ones: the first half of each split is class 0, then classes in turn."""
    root = Path(data_dir) / IWILDCAM_DIR
    (root / "train").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for split in SPLITS:
        for i in range(n_per_split):
            name = f"{split}_{i:04d}.jpg"
            Image.fromarray(rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8)).save(root / "train" / name)
            rows.append({"": len(rows), "split": split, "location_remapped": i % 3, "filename": name,
                         "y": 0 if i < n_per_split // 2 else i % n_classes, "datetime": "2013-01-01 00:00:00"})
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return root
