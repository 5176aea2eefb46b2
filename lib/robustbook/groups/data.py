"""Group-annotated spurious-correlation tasks small enough for a CPU.

Both tasks are binary (label y in {0, 1}) with a binary spurious attribute a; groups are
(y, a). In train and validation a agrees with y with probability ``p_agree`` (the spurious
correlation); in test with probability ``p_agree_test`` (0.5: no correlation), so the minority
groups (a != y) decide the worst-group accuracy.

``mask_units`` (U, D) bool says which input dimensions form one maskable unit of the auxiliary
masked-reconstruction task: single features for the tabular task, 2x2 pixel patches (both colour
channels) for the image task."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits

from robustbook._checks import check_int, check_number, require

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class GroupData:
    """Inputs x (N, D) float32, labels y (N,) int64, attributes a (N,) int64 per split."""

    x: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]
    a: dict[str, torch.Tensor]
    mask_units: torch.Tensor
    n_attributes: int = 2
    n_classes: int = 2

    @property
    def n_groups(self) -> int:
        return self.n_classes * self.n_attributes

    @property
    def dim(self) -> int:
        return self.x["train"].shape[1]

    def to(self, device: torch.device | str) -> GroupData:
        move = lambda d: {k: v.to(device) for k, v in d.items()}  # noqa: E731
        return GroupData(move(self.x), move(self.y), move(self.a), self.mask_units.to(device),
                         self.n_attributes, self.n_classes)


def spurious_attribute(y: torch.Tensor, p_agree: float, gen: torch.Generator) -> torch.Tensor:
    """a = y with probability ``p_agree``, else 1 - y (y (N,) in {0, 1})."""
    check_number("p_agree", p_agree, low=0, high=1)
    agree = torch.rand(y.shape, generator=gen) < p_agree
    return torch.where(agree, y, 1 - y)


def _standardize(x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    mean, std = x["train"].mean(0), x["train"].std(0) + 1e-3
    return {k: (v - mean) / std for k, v in x.items()}


def synthetic_spurious_task(*, n_train: int, n_val: int, n_test: int, gen: torch.Generator,
                            n_core: int = 10, n_latent: int = 4, n_nuisance: int = 30,
                            core_signal: float = 0.6, label_in_latent: bool = True,
                            feature_noise: float = 0.5, spurious_scale: float = 3.0,
                            spurious_noise: float = 0.05, p_agree: float = 0.97,
                            p_agree_test: float = 0.5, standardize: bool = False) -> GroupData:
    """Tabular task: D = n_core + n_nuisance + 1 features.

    Latent factors z ~ N(0, I_{n_latent}); the label shifts the first factor by
    ``core_signal * (2y - 1)`` when ``label_in_latent`` (else the core features get the shift
    directly and z only drives the nuisance). Core features = z B + noise (or the direct shift plus
    noise), nuisance features = z A + noise (reconstructable from each other through z), spurious
    feature = ``spurious_scale * a + N(0, spurious_noise^2)``. Features keep their raw scale
    unless ``standardize`` (then each is scaled to zero mean, unit variance on train)."""
    for name, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test), ("n_core", n_core),
                        ("n_latent", n_latent)):
        check_int(name, value)
    check_int("n_nuisance", n_nuisance, minimum=0)
    for name, value in (("p_agree", p_agree), ("p_agree_test", p_agree_test)):
        check_number(name, value, low=0, high=1)
    for name, value in (("feature_noise", feature_noise), ("spurious_noise", spurious_noise)):
        check_number(name, value, low=0)
    check_number("core_signal", core_signal)
    check_number("spurious_scale", spurious_scale)
    b = torch.randn(n_latent, n_core, generator=gen) / n_latent ** 0.5
    mix = torch.randn(n_latent, n_nuisance, generator=gen) / n_latent ** 0.5
    direction = torch.randn(n_core, generator=gen)
    direction = direction / direction.norm()
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    x, ys, attrs = {}, {}, {}
    for split, n in sizes.items():
        y = (torch.rand(n, generator=gen) < 0.5).long()
        a = spurious_attribute(y, p_agree_test if split == "test" else p_agree, gen)
        sign = (2 * y - 1).float()[:, None]
        z = torch.randn(n, n_latent, generator=gen)
        if label_in_latent:
            z[:, :1] += core_signal * sign
            core = z @ b
        else:
            core = core_signal * sign * direction
        core = core + feature_noise * torch.randn(n, n_core, generator=gen)
        nuisance = z @ mix + feature_noise * torch.randn(n, n_nuisance, generator=gen)
        spurious = spurious_scale * a.float()[:, None] + spurious_noise * torch.randn(n, 1, generator=gen)
        x[split], ys[split], attrs[split] = torch.cat([core, nuisance, spurious], 1), y, a
    dim = n_core + n_nuisance + 1
    return GroupData(_standardize(x) if standardize else x, ys, attrs, torch.eye(dim, dtype=torch.bool))


def patch_units(height: int, width: int, channels: int, patch: int) -> torch.Tensor:
    """(U, C*H*W) bool: one row per ``patch`` x ``patch`` square (all channels) of a flattened
    (C, H, W) image, row-major over squares."""
    for name, value in (("height", height), ("width", width), ("channels", channels), ("patch", patch)):
        check_int(name, value)
    rows = []
    for top in range(0, height, patch):
        for left in range(0, width, patch):
            m = torch.zeros(channels, height, width, dtype=torch.bool)
            m[:, top:top + patch, left:left + patch] = True
            rows.append(m.flatten())
    return torch.stack(rows)


def digits_patch_task(*, gen: torch.Generator, p_agree: float = 0.95, p_agree_test: float = 0.5,
                      other_channel: float = 0.3, pixel_noise: float = 0.1,
                      fractions: tuple[float, float] = (0.5, 0.2)) -> GroupData:
    """Image task from scikit-learn's 8x8 digits: y = 1 for digits 5-9; the digit is drawn in
    colour channel a (the spurious "colour") and at ``other_channel`` strength in the other channel,
    plus Gaussian pixel noise. x: (N, 2*8*8) flattened (C, H, W); mask units are 2x2 patches.
    ``fractions`` = (train, val) shares of the 1,797 images; the rest is test."""
    for name, value in (("p_agree", p_agree), ("p_agree_test", p_agree_test)):
        check_number(name, value, low=0, high=1)
    check_number("other_channel", other_channel)
    check_number("pixel_noise", pixel_noise, low=0)
    require(len(fractions) == 2 and all(isinstance(f, numbers.Real) and 0 < f < 1 for f in fractions)
            and sum(fractions) < 1,
            f"fractions must be (train, val) shares in (0, 1) that leave a test share (sum < 1), got {fractions}")
    digits = load_digits()
    ink = torch.as_tensor(digits.images / 16.0, dtype=torch.float32)       # (1797, 8, 8)
    labels = torch.as_tensor(digits.target >= 5, dtype=torch.long)
    order = torch.randperm(len(labels), generator=gen)
    n_tr, n_va = (int(f * len(labels)) for f in fractions)
    parts = {"train": order[:n_tr], "val": order[n_tr:n_tr + n_va], "test": order[n_tr + n_va:]}
    x, ys, attrs = {}, {}, {}
    for split, idx in parts.items():
        y = labels[idx]
        a = spurious_attribute(y, p_agree_test if split == "test" else p_agree, gen)
        weight = torch.stack([torch.where(a == c, 1.0, other_channel) for c in (0, 1)], 1)
        img = weight[:, :, None, None] * ink[idx][:, None]
        img = img + pixel_noise * torch.randn(img.shape, generator=gen)
        x[split], ys[split], attrs[split] = img.flatten(1), y, a
    return GroupData(_standardize(x), ys, attrs, patch_units(8, 8, 2, 2))


def masked_units(mask_units: torch.Tensor, rate: float, shape: tuple[int, ...],
                 gen: torch.Generator) -> torch.Tensor:
    """A random input mask for the auxiliary task: each unit (row of ``mask_units`` (U, D)) is
    masked with probability ``rate`` independently; returns (*shape, D) bool (True = masked)."""
    check_number("rate", rate, low=0, high=1)
    require(mask_units.ndim == 2, f"mask_units must be (U, D), got shape {tuple(mask_units.shape)}")
    chosen = (torch.rand(*shape, mask_units.shape[0], generator=gen) < rate).float()
    return (chosen @ mask_units.float().to(chosen.device)) > 0


def numpy_group_counts(data: GroupData) -> dict[str, np.ndarray]:
    """Examples per group and split: {split: (G,) counts} (groups y * n_attributes + a)."""
    out = {}
    for split in SPLITS:
        g = data.y[split] * data.n_attributes + data.a[split]
        out[split] = np.bincount(g.numpy(), minlength=data.n_groups)
    return out
