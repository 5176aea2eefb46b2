"""scikit-learn's 8x8 digits as a tiny image benchmark with synthetic distribution shifts:
the images enlarged to 32x32 uint8 (``imagecorruptions`` needs >= 32 pixels), a stratified split,
and the test images corrupted at every (corruption, severity) of a grid.

Shift names are ``"{corruption}-{severity}"`` (:func:`shift_name`); a shift's images are corrupted
with a seed derived from ``(seed, CRC-32 of its name)`` by NumPy's ``SeedSequence``, so adding or
removing a shift never changes the pixels of another one.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from robustbook._checks import check_int
from robustbook.shift.corruptions import corrupt_images, upscale

IMAGE_SIZE = 32


def shift_name(corruption: str, severity: int) -> str:
    return f"{corruption}-{severity}"


def digit_images(size: int = IMAGE_SIZE) -> tuple[np.ndarray, torch.Tensor]:
    """All 1,797 digits as uint8 (N, size, size) images (bilinear upscale of the 0..16 originals)
    and their labels (N,) int64."""
    check_int("size", size)
    digits = load_digits()
    return upscale(digits.images / 16.0, size), torch.as_tensor(digits.target, dtype=torch.long)


def split_digits(labels, seed: int, test_fraction: float = 1 / 3,
                 n_train: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train / test indices (a ``test_fraction`` share in the test split), shuffled by
    ``seed``; ``n_train`` keeps only the first n training indices."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if n_train is not None:
        check_int("n_train", n_train)
    labels = np.asarray(labels)
    idx_tr, idx_te = train_test_split(np.arange(len(labels)), test_size=test_fraction,
                                      stratify=labels, random_state=seed)
    return (idx_tr if n_train is None else idx_tr[:n_train]), idx_te


def corrupted_sets(images: np.ndarray, corruptions: Sequence[str], severities: Sequence[int],
                   seed: int) -> dict[str, tuple[np.ndarray, tuple[str, int]]]:
    """{shift name: (corrupted uint8 images, (corruption, severity))} for every corruption x
    severity, in that order, each corrupted with :func:`shift_seed` ``(seed, name)``."""
    out = {}
    for c in corruptions:
        for s in severities:
            name = shift_name(c, s)
            out[name] = (corrupt_images(images, c, s, seed=shift_seed(seed, name)), (c, s))
    return out


def shift_seed(seed: int, name: str) -> int:
    """The corruption seed of shift ``name`` under ``seed``: ``SeedSequence([seed, crc32(name)])``."""
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def flatten_pixels(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) -> float32 (N, H * W) in [0, 1]."""
    return torch.as_tensor(np.asarray(images).reshape(len(images), -1), dtype=torch.float32) / 255.0
