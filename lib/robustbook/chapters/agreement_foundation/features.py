"""Chapter 03's frozen "foundation model" features: ID train / ID test / one set per shift.

* ``digits_features`` (cpu, smoke): scikit-learn's 8x8 digits enlarged to 32x32; a one-hidden-layer
  MLP pretrained on digits 0..pretrain_classes-1 only (a different task from the 10-class
  fine-tuning task), then frozen; its hidden layer is the feature map. Shifts: the test images
  corrupted with ``imagecorruptions`` at each (corruption, severity).
* ``clip_features`` (paper): a frozen OpenCLIP image encoder on CIFAR-10 (ID), CIFAR-10.1 and
  CIFAR-10-C (shifts), all read from ``data_dir``.
Features are standardised with the training set's mean and std.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from robustbook.chapters.agreement_foundation.config import Settings
from robustbook.data.cifar import load_cifar10
from robustbook.data.cifar_shifts import check_files, load_cifar10_1, load_cifar10_c, required_files
from robustbook.models import MLP
from robustbook.models.clip_features import encode_images, load_open_clip
from robustbook.shift.corruptions import corrupt_images, upscale
from robustbook.train import fit

CIFAR10_1 = "cifar10.1"


@dataclass(frozen=True)
class FeatureSet:
    """Frozen features: train (N, d), ID test (M, d), and per shift name (M_s, d) with labels;
    ``shift_info[name]`` = (corruption or dataset, severity; 0 for CIFAR-10.1)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_id: torch.Tensor
    y_id: torch.Tensor
    shifts: dict[str, tuple[torch.Tensor, torch.Tensor]]
    shift_info: dict[str, tuple[str, int]]
    n_classes: int = 10


def shift_name(corruption: str, severity: int) -> str:
    return f"{corruption}-{severity}"


def _standardized(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    mean, std = train.mean(0), train.std(0) + 1e-3
    return [(t - mean) / std for t in (train, *others)]


def check_paper_data(s: Settings) -> None:
    """Fail before any work when a file the paper preset reads is missing (names them all)."""
    check_files(s.data_dir, required_files(corruptions=s.corruptions))


# ---- cpu: digits and a pretrained MLP ---------------------------------------------------------

def pretrain_backbone(x: torch.Tensor, y: torch.Tensor, s: Settings, seed: int) -> MLP:
    """MLP (d_in -> backbone_width -> pretrain_classes) trained with Adam on the examples of the
    first ``pretrain_classes`` digits only; returned frozen (eval mode, no gradients)."""
    keep = y < s.pretrain_classes
    torch.manual_seed(seed)
    model = MLP(x.shape[1], s.backbone_width, s.pretrain_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(xb: torch.Tensor, yb: torch.Tensor) -> float:
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss.item()

    fit(model, x[keep], y[keep], step, epochs=s.pretrain_epochs, batch_size=32,
        generator=torch.Generator().manual_seed(seed))
    return model.eval().requires_grad_(False)


def digits_features(s: Settings, seed: int) -> FeatureSet:
    """Digits split (stratified, 1/3 test, by ``seed``), upscaled to 32x32, the test images
    corrupted per shift, all passed through a backbone pretrained on this seed's training set."""
    digits = load_digits()
    idx_tr, idx_te = train_test_split(np.arange(len(digits.target)), test_size=1 / 3,
                                      stratify=digits.target, random_state=seed)
    if s.n_train is not None:
        idx_tr = idx_tr[: s.n_train]
    images = upscale(digits.images / 16.0)                       # uint8 (1797, 32, 32)
    labels = torch.as_tensor(digits.target, dtype=torch.long)
    flat = torch.as_tensor(images.reshape(len(images), -1), dtype=torch.float32) / 255.0
    mean, std = flat[idx_tr].mean(0), flat[idx_tr].std(0) + 0.1  # border pixels are nearly constant

    def pixels(x: np.ndarray) -> torch.Tensor:
        return (torch.as_tensor(x.reshape(len(x), -1), dtype=torch.float32) / 255.0 - mean) / std

    backbone = pretrain_backbone(pixels(images[idx_tr]), labels[idx_tr], s, seed)
    shifts, info = {}, {}
    with torch.no_grad():
        feats = [backbone.features(pixels(images[idx_tr])), backbone.features(pixels(images[idx_te]))]
        for c in s.corruptions:
            for sev in s.severities:
                name = shift_name(c, sev)
                corrupted = corrupt_images(images[idx_te], c, sev, seed=seed * 100 + sev)
                feats.append(backbone.features(pixels(corrupted)))
                info[name] = (c, sev)
    x_tr, x_id, *x_shift = _standardized(*feats)
    for name, x in zip(info, x_shift):
        shifts[name] = (x, labels[idx_te])
    return FeatureSet(x_tr, labels[idx_tr], x_id, labels[idx_te], shifts, info)


# ---- paper: OpenCLIP on CIFAR-10 -> CIFAR-10.1 / CIFAR-10-C -------------------------------------

def clip_features(s: Settings, device: torch.device) -> FeatureSet:
    """Frozen ``s.clip_model`` image embeddings of CIFAR-10 train/test, CIFAR-10.1 and every
    CIFAR-10-C (corruption, severity) in ``s``; computed once, shared by all seeds."""
    check_paper_data(s)
    model = load_open_clip(s.clip_model, s.clip_pretrained, device)
    x_tr, y_tr, x_te, y_te = load_cifar10(s.data_dir)
    if s.n_train is not None:
        x_tr, y_tr = x_tr[: s.n_train], y_tr[: s.n_train]
    loaders = {CIFAR10_1: lambda: load_cifar10_1(s.data_dir)}
    info = {CIFAR10_1: (CIFAR10_1, 0)}
    for c in s.corruptions:
        for sev in s.severities:
            loaders[shift_name(c, sev)] = lambda c=c, sev=sev: load_cifar10_c(s.data_dir, c, sev)
            info[shift_name(c, sev)] = (c, sev)
    encoded, labels = [encode_images(model, x_tr), encode_images(model, x_te)], {}
    for name, load in loaders.items():  # one shift in memory at a time (CIFAR-10-C is 3 GB)
        x, labels[name] = load()
        encoded.append(encode_images(model, x))
    z_tr, z_te, *z_shift = _standardized(*encoded)
    shifts = {name: (z, labels[name]) for name, z in zip(loaders, z_shift)}
    return FeatureSet(z_tr, y_tr, z_te, y_te, shifts, info)
