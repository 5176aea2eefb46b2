"""Frozen "foundation model" features for linear-probe studies: an ID training set, an ID test
set and one feature set per distribution shift, all from one frozen encoder.

* :func:`digits_features` (CPU scale): a one-hidden-layer MLP pretrained on the digits of the
  first ``pretrain_classes`` classes only (a different task from the 10-class probe task), then
  frozen; its hidden layer is the feature map. Shifts: the test digits corrupted with
  ``imagecorruptions`` (``robustbook.data.digit_shifts``).
* :func:`text_pool` / :func:`text_features` (CPU scale, language): a frozen pretrained text
  encoder (all-MiniLM-L6-v2, shipped in a pip package) on the topic task of
  ``robustbook.data.text_topics``, embedded once; each seed draws its own training subset.
* :func:`clip_features` (paper scale): a frozen OpenCLIP image encoder (loaded by the caller with
  ``robustbook.models.clip_features.load_open_clip``) on CIFAR-10 (ID), CIFAR-10.1 and CIFAR-10-C.
Features are standardised with the training set's mean and std (:func:`standardize`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from robustbook._checks import check_int, check_number, require
from robustbook.data.cifar import load_cifar10
from robustbook.data.cifar_shifts import check_severity_list, load_cifar10_1, load_cifar10_c
from robustbook.data.digit_shifts import (
    corrupted_sets,
    digit_images,
    flatten_pixels,
    shift_name,
    split_digits,
)
from robustbook.data.text_topics import SHIFT_KINDS, render, sample_posts, shifted_texts, topic_names
from robustbook.models.clip_features import encode_images
from robustbook.models.small import MLP
from robustbook.train import fit

CIFAR10_1 = "cifar10.1"
PIXEL_STD_FLOOR = 0.1  # border pixels of the upscaled digits are nearly constant


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


def standardize(train: torch.Tensor, *others: torch.Tensor, floor: float = 1e-3) -> list[torch.Tensor]:
    """[(t - mean) / (std + floor) for t in (train, *others)], with the train set's per-feature
    mean and (unbiased) std."""
    require(train.ndim >= 1 and len(train) >= 2,
            f"train needs at least 2 rows for an unbiased std, got shape {tuple(train.shape)}")
    for i, t in enumerate(others):
        require(t.shape[1:] == train.shape[1:],
                f"others[{i}] must have train's feature shape {tuple(train.shape[1:])}, got {tuple(t.shape[1:])}")
    check_number("floor", floor, low=0)
    mean, std = train.mean(0), train.std(0) + floor
    return [(t - mean) / std for t in (train, *others)]


def pretrain_mlp(x: torch.Tensor, y: torch.Tensor, *, width: int, n_classes: int, epochs: int,
                 seed: int, lr: float = 1e-3, batch_size: int = 32) -> MLP:
    """MLP (d_in -> width -> n_classes) trained with Adam on the examples with label <
    ``n_classes`` only; returned frozen (eval mode, no gradients)."""
    require(x.ndim == 2, f"x must be (N, d_in), got shape {tuple(x.shape)}")
    require(len(x) == len(y), f"need x, y of equal length, got x={len(x)}, y={len(y)}")
    check_int("n_classes", n_classes)
    keep = y < n_classes
    require(bool(keep.any()), f"no training example has a label < n_classes={n_classes}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MLP(x.shape[1], width, n_classes)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(xb: torch.Tensor, yb: torch.Tensor) -> float:
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss.item()

    fit(model, x[keep], y[keep], step, epochs=epochs, batch_size=batch_size,
        generator=torch.Generator().manual_seed(seed))
    return model.eval().requires_grad_(False)


@dataclass(frozen=True)
class ShiftedDigits:
    """One split of the digits and its corrupted test images: what every backbone of a seed shares
    (made once by :func:`shifted_digits`, then passed to :func:`digits_features` per backbone)."""

    images: np.ndarray
    labels: torch.Tensor
    idx_train: np.ndarray
    idx_test: np.ndarray
    shifted: dict[str, tuple[np.ndarray, tuple[str, int]]]
    key: tuple  # (corruptions, severities, split_seed, corruption_seed, n_train) it was made with


def shifted_digits(*, corruptions: Sequence[str], severities: Sequence[int], split_seed: int,
                   corruption_seed: int, n_train: int | None = None) -> ShiftedDigits:
    """Digits split by ``split_seed`` (1/3 test, stratified), 32x32; the test images corrupted per
    (corruption, severity) with ``corruption_seed`` (the slow part: seconds per call)."""
    images, labels = digit_images()
    idx_tr, idx_te = split_digits(labels, split_seed, n_train=n_train)
    shifted = corrupted_sets(images[idx_te], corruptions, severities, corruption_seed)
    return ShiftedDigits(images, labels, idx_tr, idx_te, shifted,
                         (tuple(corruptions), tuple(severities), split_seed, corruption_seed, n_train))


def digits_features(*, corruptions: Sequence[str], severities: Sequence[int], width: int,
                    pretrain_classes: int, pretrain_epochs: int, split_seed: int,
                    backbone_seed: int, corruption_seed: int, n_train: int | None = None,
                    data: ShiftedDigits | None = None) -> FeatureSet:
    """The split and corrupted test images of :func:`shifted_digits` (made here, or ``data`` made
    with the same arguments earlier in the run) passed through an MLP pretrained
    (``backbone_seed``) on the training digits 0 .. pretrain_classes - 1, then standardised."""
    key = (tuple(corruptions), tuple(severities), split_seed, corruption_seed, n_train)
    if data is None:
        data = shifted_digits(corruptions=corruptions, severities=severities, split_seed=split_seed,
                              corruption_seed=corruption_seed, n_train=n_train)
    require(data.key == key, f"data was made with {data.key}, not with these arguments {key}")
    images, labels, idx_tr, idx_te = data.images, data.labels, data.idx_train, data.idx_test
    train = flatten_pixels(images[idx_tr])
    mean, std = train.mean(0), train.std(0) + PIXEL_STD_FLOOR

    def pixels(x: np.ndarray) -> torch.Tensor:
        return (flatten_pixels(x) - mean) / std

    backbone = pretrain_mlp(pixels(images[idx_tr]), labels[idx_tr], width=width,
                            n_classes=pretrain_classes, epochs=pretrain_epochs, seed=backbone_seed)
    with torch.no_grad():
        feats = [backbone.features(pixels(x)) for x in
                 (images[idx_tr], images[idx_te], *(x for x, _ in data.shifted.values()))]
    x_tr, x_id, *x_shift = standardize(*feats)
    shifts = {name: (x, labels[idx_te]) for name, x in zip(data.shifted, x_shift)}
    return FeatureSet(x_tr, labels[idx_tr], x_id, labels[idx_te], shifts,
                      {name: info for name, (_, info) in data.shifted.items()})


def clip_features(model: nn.Module, data_dir: str | Path, *, corruptions: Sequence[str],
                  severities: Sequence[int], n_train: int | None = None) -> FeatureSet:
    """Frozen image embeddings of CIFAR-10 train/test, CIFAR-10.1 and every CIFAR-10-C
    (corruption, severity), read from ``data_dir``; one shift in memory at a time."""
    if n_train is not None:
        check_int("n_train", n_train)
    x_tr, y_tr, x_te, y_te = load_cifar10(data_dir)
    if n_train is not None:
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    loaders = {CIFAR10_1: lambda: load_cifar10_1(data_dir)}
    info = {CIFAR10_1: (CIFAR10_1, 0)}
    for c in corruptions:
        for sev in severities:
            loaders[shift_name(c, sev)] = lambda c=c, sev=sev: load_cifar10_c(data_dir, c, sev)
            info[shift_name(c, sev)] = (c, sev)
    encoded, labels = [encode_images(model, x_tr), encode_images(model, x_te)], {}
    for name, load in loaders.items():  # CIFAR-10-C is 3 GB: encode one shift at a time
        x, labels[name] = load()
        encoded.append(encode_images(model, x))
    z_tr, z_te, *z_shift = standardize(*encoded)
    shifts = {name: (z, labels[name]) for name, z in zip(loaders, z_shift)}
    return FeatureSet(z_tr, y_tr, z_te, y_te, shifts, info)


@dataclass(frozen=True)
class TextPool:
    """Frozen-encoder embeddings of the text topic task (raw, not standardised): a training pool,
    a test pool, and the same test posts under each shift (``shift_info[name]`` = (kind, severity;
    0 for the one-level style shift))."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    shifts: dict[str, torch.Tensor]
    shift_info: dict[str, tuple[str, int]]
    n_classes: int


def text_pool(encode: Callable[[list[str]], torch.Tensor], *, n_train: int, n_test: int,
              severities: Sequence[int], seed: int, n_topics: int = 6) -> TextPool:
    """Posts drawn with ``seed`` (``n_train`` for training, ``n_test`` for testing), the test posts
    re-rendered under every shift of ``robustbook.data.text_topics`` (vocabulary and typos at each
    of ``severities``, style once), and everything passed through ``encode`` (texts -> (N, d))."""
    check_int("n_train", n_train, minimum=2)
    check_int("n_test", n_test)
    names = topic_names(n_topics)
    check_severity_list(severities)
    rng = np.random.default_rng(seed)
    train, test = sample_posts(n_train, rng, n_topics), sample_posts(n_test, rng, n_topics)
    texts, info = {}, {}
    for kind in SHIFT_KINDS:
        for severity in (0,) if kind == "style" else severities:
            name = kind if kind == "style" else shift_name(kind, severity)
            texts[name], info[name] = shifted_texts(test, kind, max(severity, 1), rng), (kind, severity)
    return TextPool(encode([render(p) for p in train]), torch.tensor([p.topic for p in train]),
                    encode([render(p) for p in test]), torch.tensor([p.topic for p in test]),
                    {name: encode(t) for name, t in texts.items()}, info, len(names))


def text_features(pool: TextPool, *, train_fraction: float, seed: int) -> FeatureSet:
    """One seed's view of ``pool``: a random ``train_fraction`` of the training posts (drawn with
    ``seed``), every test set, all standardised with that training subset's statistics."""
    check_number("train_fraction", train_fraction, low=0, high=1, low_open=True)
    n = len(pool.y_train)
    keep = max(2, round(train_fraction * n))
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:keep].sort().values
    x_tr, x_id, *x_shift = standardize(pool.x_train[idx], pool.x_test, *pool.shifts.values())
    shifts = {name: (x, pool.y_test) for name, x in zip(pool.shifts, x_shift)}
    return FeatureSet(x_tr, pool.y_train[idx], x_id, pool.y_test, shifts, dict(pool.shift_info),
                      n_classes=pool.n_classes)
