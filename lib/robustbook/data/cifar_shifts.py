"""CIFAR-10's standard distribution shifts from a local folder (no downloads): CIFAR-10.1 and
CIFAR-10-C, in their released ``.npy`` formats.

Expected layout under ``data_dir`` (next to ``cifar-10-batches-py/``, see ``robustbook.data.cifar``):

    CIFAR-10.1/cifar10.1_v6_data.npy     uint8 (2000, 32, 32, 3)
    CIFAR-10.1/cifar10.1_v6_labels.npy   int   (2000,)
        from https://github.com/modestyachts/CIFAR-10.1 (folder datasets/)
    CIFAR-10-C/<corruption>.npy          uint8 (50000, 32, 32, 3): severities 1..5 stacked,
                                          10,000 test images each, severity s in rows
                                          (s-1)*10000 .. s*10000-1
    CIFAR-10-C/labels.npy                int   (50000,)
        from https://zenodo.org/records/2535967 (CIFAR-10-C.tar, extracted)

Loaders return images as uint8 tensors (N, 3, 32, 32), like ``load_cifar10``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from robustbook._checks import require
from robustbook.data.cifar import CIFAR10_FOLDER, TEST_FILE, TRAIN_FILES

CIFAR10_1_FOLDER = "CIFAR-10.1"
CIFAR10_C_FOLDER = "CIFAR-10-C"
CIFAR10_C_SEVERITIES = (1, 2, 3, 4, 5)
CIFAR10_C_CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "defocus_blur", "glass_blur",
    "motion_blur", "zoom_blur", "gaussian_blur", "snow", "frost", "fog", "spatter", "brightness",
    "contrast", "saturate", "elastic_transform", "pixelate", "jpeg_compression")


def check_corruption_list(corruptions) -> None:
    """A chapter's ``corruptions`` knob: a non-empty list of CIFAR-10-C corruption names."""
    unknown = [c for c in corruptions if c not in CIFAR10_C_CORRUPTIONS]
    require(len(corruptions) >= 1 and not unknown, f"corruptions must be a non-empty list of "
            f"{', '.join(CIFAR10_C_CORRUPTIONS)}; unknown: {unknown}")


def check_severity_list(severities) -> None:
    """A chapter's ``severities`` knob: a non-empty list of integers in 1..5."""
    require(len(severities) >= 1 and all(s in CIFAR10_C_SEVERITIES for s in severities),
            f"severities must be a non-empty list of integers in 1..5, got {list(severities)}")


SOURCES = {
    CIFAR10_FOLDER: "cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html",
    CIFAR10_1_FOLDER: "the datasets/ folder of https://github.com/modestyachts/CIFAR-10.1",
    CIFAR10_C_FOLDER: "CIFAR-10-C.tar from https://zenodo.org/records/2535967",
}


def cifar10_1_files(version: str = "v6") -> tuple[str, str]:
    return f"cifar10.1_{version}_data.npy", f"cifar10.1_{version}_labels.npy"


def required_files(*, cifar10: bool = True, cifar10_1: bool = True,
                   corruptions: tuple[str, ...] = ()) -> list[Path]:
    """Paths (relative to data_dir) that a run with these datasets reads."""
    paths = [Path(CIFAR10_FOLDER) / f for f in (*TRAIN_FILES, TEST_FILE)] if cifar10 else []
    if cifar10_1:
        paths += [Path(CIFAR10_1_FOLDER) / f for f in cifar10_1_files()]
    if corruptions:
        paths += [Path(CIFAR10_C_FOLDER) / f"{c}.npy" for c in corruptions]
        paths.append(Path(CIFAR10_C_FOLDER) / "labels.npy")
    return paths


def check_files(data_dir: str | Path | None, paths: list[Path]) -> None:
    """Raise FileNotFoundError naming every missing file and where to get it (before any work)."""
    where = "; ".join(f"{folder}/: {src}" for folder, src in SOURCES.items()
                      if any(p.parts[0] == folder for p in paths))
    if data_dir is None:
        raise FileNotFoundError(f"the paper preset needs data_dir (None given), a folder holding "
                                f"{', '.join(str(p) for p in paths)}. Get them from: {where}")
    missing = [str(p) for p in paths if not (Path(data_dir) / p).is_file()]
    if missing:
        raise FileNotFoundError(f"missing in data_dir={data_dir}: {', '.join(missing)}. "
                                f"Get them from: {where}")


def _to_nchw(images: np.ndarray) -> torch.Tensor:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise ValueError(f"expected uint8 images (N, 32, 32, 3), got {images.dtype} {images.shape}")
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def load_cifar10_1(data_dir: str | Path | None, version: str = "v6") -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10.1 (Recht et al., 2018): (x uint8 (2000, 3, 32, 32), y int64 (2000,))."""
    names = cifar10_1_files(version)
    check_files(data_dir, [Path(CIFAR10_1_FOLDER) / n for n in names])
    folder = Path(data_dir) / CIFAR10_1_FOLDER
    x, y = np.load(folder / names[0]), np.load(folder / names[1])
    if len(x) != len(y):
        raise ValueError(f"CIFAR-10.1: {len(x)} images but {len(y)} labels")
    return _to_nchw(x), torch.from_numpy(y.astype(np.int64))


def load_cifar10_c(data_dir: str | Path | None, corruption: str,
                   severity: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One CIFAR-10-C shift (Hendrycks & Dietterich, 2019): the ``severity`` block (1..5) of
    ``<corruption>.npy`` as (x uint8 (n, 3, 32, 32), y int64 (n,)), n = rows / 5 (10,000)."""
    if corruption not in CIFAR10_C_CORRUPTIONS:
        raise ValueError(f"unknown CIFAR-10-C corruption {corruption!r}; known: "
                         f"{', '.join(CIFAR10_C_CORRUPTIONS)}")
    if severity not in CIFAR10_C_SEVERITIES:
        raise ValueError(f"severity must be one of {CIFAR10_C_SEVERITIES}, got {severity}")
    check_files(data_dir, required_files(cifar10=False, cifar10_1=False, corruptions=(corruption,)))
    folder = Path(data_dir) / CIFAR10_C_FOLDER
    images = np.load(folder / f"{corruption}.npy", mmap_mode="r")
    labels = np.load(folder / "labels.npy", mmap_mode="r")
    if len(images) != len(labels) or len(images) % len(CIFAR10_C_SEVERITIES):
        raise ValueError(f"CIFAR-10-C {corruption}: {len(images)} images and {len(labels)} labels; "
                         f"expected equal counts, a multiple of 5 (5 severities stacked)")
    n = len(images) // len(CIFAR10_C_SEVERITIES)
    rows = slice((severity - 1) * n, severity * n)
    return _to_nchw(images[rows]), torch.from_numpy(np.asarray(labels[rows]).astype(np.int64))


def write_cifar10_1(folder: str | Path, images: np.ndarray, labels: np.ndarray, version: str = "v6") -> None:
    """Write CIFAR-10.1 files in the released format (for test fixtures): ``images`` uint8
    (N, 32, 32, 3), ``labels`` (N,)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data, label_file = cifar10_1_files(version)
    np.save(folder / data, np.asarray(images, dtype=np.uint8))
    np.save(folder / label_file, np.asarray(labels, dtype=np.int64))


def write_cifar10_c(folder: str | Path, corruption: str, images_by_severity: np.ndarray,
                    labels: np.ndarray) -> None:
    """Write one CIFAR-10-C corruption (for test fixtures): ``images_by_severity`` uint8
    (5, n, 32, 32, 3) stacked into (5n, 32, 32, 3); ``labels`` (n,) repeated 5 times."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images = np.asarray(images_by_severity, dtype=np.uint8)
    if images.ndim != 5 or len(images) != len(CIFAR10_C_SEVERITIES) or len(labels) != images.shape[1]:
        raise ValueError(f"images_by_severity must be uint8 (5, n, 32, 32, 3) with labels (n,), got "
                         f"{images.shape} and {len(labels)} labels")
    np.save(folder / f"{corruption}.npy", images.reshape(-1, *images.shape[2:]))
    np.save(folder / "labels.npy", np.tile(np.asarray(labels, dtype=np.uint8), len(images)))
