"""CIFAR-10 from a local folder in its standard python-pickle format (no downloads).

Expected layout: ``<data_dir>/cifar-10-batches-py/{data_batch_1..5, test_batch}``, as extracted from
``cifar-10-python.tar.gz`` (https://www.cs.toronto.edu/~kriz/cifar.html).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from robustbook.data import safe_pickle

CIFAR10_FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def check_cifar10(data_dir: str | Path | None) -> Path:
    """The CIFAR-10 folder under ``data_dir``; a ``FileNotFoundError`` naming what is missing and
    where it goes otherwise (cheap: checks the files exist, reads nothing)."""
    return _folder(data_dir)


def _folder(data_dir: str | Path | None) -> Path:
    hint = (f"Download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and "
            f"extract it into data_dir, so that data_dir/{CIFAR10_FOLDER}/ holds "
            f"{', '.join(TRAIN_FILES)} and {TEST_FILE}.")
    if data_dir is None:
        raise FileNotFoundError(f"CIFAR-10 needs data_dir (preset 'paper'), but data_dir is None. {hint}")
    folder = Path(data_dir) / CIFAR10_FOLDER
    missing = [f for f in (*TRAIN_FILES, TEST_FILE) if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"CIFAR-10 files missing in {folder}: {', '.join(missing)}. {hint}")
    return folder


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = safe_pickle.load(path)  # data only: a tampered file cannot run code
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images, np.asarray(batch[b"labels"], dtype=np.int64)


def load_cifar10(data_dir: str | Path | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                       torch.Tensor]:
    """(x_train uint8 (50000, 3, 32, 32), y_train (50000,), x_test, y_test) from ``data_dir``."""
    folder = _folder(data_dir)
    parts = [_read_batch(folder / f) for f in TRAIN_FILES]
    x_te, y_te = _read_batch(folder / TEST_FILE)
    x_tr = np.concatenate([p[0] for p in parts])
    y_tr = np.concatenate([p[1] for p in parts])
    return (torch.from_numpy(x_tr), torch.from_numpy(y_tr), torch.from_numpy(x_te),
            torch.from_numpy(y_te))


def write_cifar10_batch(path: str | Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Write one batch file in CIFAR-10's pickle format (used by tests to make small fixtures).
    ``images``: uint8 (N, 3, 32, 32); ``labels``: (N,) ints in 0..9."""
    record = {b"data": images.reshape(len(images), -1).astype(np.uint8),
              b"labels": [int(v) for v in labels], b"batch_label": b"robustbook fixture"}
    with open(path, "wb") as f:
        pickle.dump(record, f)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, 32, 32) -> float32 standardised with CIFAR-10's channel statistics."""
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Standard CIFAR augmentation on a batch (B, C, H, W): random crop after ``pad`` zero padding,
    then a horizontal flip with probability 1/2. Uses ``generator`` (CPU) for determinism."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).tolist()
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator).tolist()
    flips = (torch.rand(b, generator=generator) < 0.5).tolist()
    out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])
    flip_idx = [i for i in range(b) if flips[i]]
    if flip_idx:
        out[flip_idx] = out[flip_idx].flip(-1)
    return out
