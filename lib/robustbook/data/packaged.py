"""Datasets that ship inside pip packages, so they work offline."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from robustbook._checks import check_int
from robustbook.data.noise import symmetric_label_noise
from robustbook.data.tensors import TensorSplit


def load_digits_split(*, noise_rate: float, seed: int, test_fraction: float = 1 / 3,
                      n_train: int | None = None, standardize: bool = True) -> TensorSplit:
    """scikit-learn's 8x8 digits (1,797 images, 10 classes) as flat float32 vectors in [0, 1].

    Stratified train/test split by ``seed``; symmetric label noise at ``noise_rate`` on the
    training labels only (test labels stay clean). ``n_train`` keeps only the first n training
    examples (for quick runs). ``standardize`` scales each pixel to zero mean, unit variance using
    training statistics (else pixels are scaled to [0, 1]). x: (N, 64), y: (N,) int64.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if not 0.0 <= noise_rate < 1.0:
        raise ValueError(f"label noise rate noise_rate must be in [0, 1), got {noise_rate}")
    if n_train is not None:
        check_int("n_train", n_train)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, digits.target, test_size=test_fraction,
                                              stratify=digits.target, random_state=seed)
    if n_train is not None:
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    if standardize:
        mean, std = x_tr.mean(0), x_tr.std(0) + 1e-3  # some border pixels are always 0
        x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    y_clean = torch.as_tensor(y_tr, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    y_noisy = symmetric_label_noise(y_clean, noise_rate, 10, gen)
    return TensorSplit(torch.as_tensor(x_tr), y_noisy, y_clean, torch.as_tensor(x_te),
                       torch.as_tensor(y_te, dtype=torch.long))
