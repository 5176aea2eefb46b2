"""Distribution shifts with a spurious feature: the linear theory model of Garg et al. (2023,
Sec. 4) and coloured digits (an image-level version of the same shift).

Theory model (binary y in {-1, +1}, balanced): ``x = [x_in, x_sp]`` with
``x_in = gamma * y * w_star + N(0, I_d)`` (the invariant part, w_star a unit vector) and one
spurious coordinate ``x_sp``: in the source ``x_sp = mu_sp * y + N(0, s_src^2)`` (nearly noiseless,
so it is the easiest feature to fit), in the target ``x_sp = N(0, s_tgt^2)`` (independent of y).
With ``shift=False`` both domains are drawn like the target (the semi-supervised control: the
labelled, unlabelled and test data share one distribution, with no shortcut to amplify).

Coloured digits: scikit-learn's 8x8 digits drawn in one of ``n_colours`` colours; in the source the
colour is the label's colour with probability ``p_spurious`` (else random), in the target it is
always random. Shape is the invariant feature, colour the spurious one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits

from robustbook._checks import check_int, check_number, require


@dataclass(frozen=True)
class SpuriousModel:
    """Parameters of the theory model (defaults: the chapter's cpu setting)."""

    dim_inv: int = 50        # d, invariant dimensions
    gamma: float = 2.5       # signal along w_star
    mu_sp: float = 4.0       # source: spurious mean is mu_sp * y
    s_src: float = 0.1       # source: spurious noise std
    s_tgt: float = 5.0       # target: spurious std (no label information)

    def __post_init__(self) -> None:
        check_int("dim_inv", self.dim_inv)
        for name in ("gamma", "mu_sp"):
            check_number(name, getattr(self, name))
        for name in ("s_src", "s_tgt"):
            check_number(name, getattr(self, name), low=0)

    @property
    def dim(self) -> int:
        return self.dim_inv + 1

    def w_star(self) -> torch.Tensor:
        """The invariant direction embedded in R^{d+1}: (1, ..., 1, 0) / sqrt(d)."""
        w = torch.zeros(self.dim, dtype=torch.float64)
        w[: self.dim_inv] = 1.0 / math.sqrt(self.dim_inv)
        return w

    def spurious_axis(self) -> torch.Tensor:
        e = torch.zeros(self.dim, dtype=torch.float64)
        e[-1] = 1.0
        return e

    def bayes_target_accuracy(self) -> float:
        """Accuracy of the Bayes classifier on the target, Phi(gamma): x_sp carries no information
        there, and along w_star the classes are +-gamma with unit noise."""
        return 0.5 * (1.0 + math.erf(self.gamma / math.sqrt(2.0)))


def sample_spurious(model: SpuriousModel, n: int, *, domain: str, generator: torch.Generator,
                    shift: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """n points of ``domain`` ("source" or "target"): x (n, d+1) float64, y (n,) in {-1, +1}."""
    if domain not in ("source", "target"):
        raise ValueError(f"domain must be 'source' or 'target', got {domain!r}")
    check_int("n", n, minimum=0)
    y = torch.randint(0, 2, (n,), generator=generator).to(torch.float64) * 2 - 1
    noise = torch.randn(n, model.dim, generator=generator, dtype=torch.float64)
    x = model.gamma * y[:, None] * model.w_star()[None, :] + noise
    if domain == "source" and shift:
        x[:, -1] = model.mu_sp * y + model.s_src * noise[:, -1]
    else:
        x[:, -1] = model.s_tgt * noise[:, -1]
    return x, y


# ---- coloured digits ---------------------------------------------------------------------------

def palette(n_colours: int = 10) -> torch.Tensor:
    """(n_colours, 3) saturated RGB colours, evenly spaced hues (HSV with s = v = 1)."""
    check_int("n_colours", n_colours)
    h = torch.arange(n_colours, dtype=torch.float32) / n_colours
    k = torch.stack([(5 + 6 * h) % 6, (3 + 6 * h) % 6, (1 + 6 * h) % 6], dim=1)
    return 1 - torch.clamp(torch.minimum(k, 4 - k), 0, 1)


def colour_digits(gray: torch.Tensor, colour_idx: torch.Tensor, n_colours: int = 10) -> torch.Tensor:
    """gray (N, H, W) in [0, 1] and colour indices (N,) -> RGB images (N, 3, H, W)."""
    require(gray.ndim == 3, f"gray must be (N, H, W) images, got shape {tuple(gray.shape)}")
    require(tuple(colour_idx.shape) == (len(gray),),
            f"colour_idx must be (N,) = ({len(gray)},) like gray, got shape {tuple(colour_idx.shape)}")
    return gray[:, None] * palette(n_colours)[colour_idx][:, :, None, None]


def spurious_colours(labels: torch.Tensor, p_spurious: float, generator: torch.Generator,
                     n_colours: int = 10) -> torch.Tensor:
    """Colour index per example: ``labels % n_colours`` with probability p_spurious, else uniform."""
    if not 0.0 <= p_spurious <= 1.0:
        raise ValueError(f"p_spurious must be in [0, 1], got {p_spurious}")
    check_int("n_colours", n_colours)
    random = torch.randint(0, n_colours, labels.shape, generator=generator)
    keep = torch.rand(labels.shape, generator=generator) < p_spurious
    return torch.where(keep, labels % n_colours, random)


@dataclass(frozen=True)
class ShiftSplit:
    """Labelled source, unlabelled target and labelled target test set (images N, C, H, W)."""

    x_source: torch.Tensor
    y_source: torch.Tensor
    x_target: torch.Tensor       # unlabelled during training
    y_target: torch.Tensor       # kept only to report pseudo-label quality
    x_test: torch.Tensor         # target test images
    y_test: torch.Tensor

    @property
    def n_classes(self) -> int:
        return int(torch.cat([self.y_source, self.y_test]).max()) + 1


def coloured_digit_shift(*, p_spurious: float, generator: torch.Generator, n_labels: int | None = None,
                         shift: bool = True) -> ShiftSplit:
    """Digits split in three random thirds: labelled source (label-coloured with probability
    ``p_spurious``; the first ``n_labels`` kept), unlabelled target and target test (random colours;
    with ``shift=False`` coloured like the source). Images (N, 3, 8, 8) in [0, 1]."""
    if not 0.0 <= p_spurious <= 1.0:
        raise ValueError(f"p_spurious must be in [0, 1], got {p_spurious}")
    if n_labels is not None:
        check_int("n_labels", n_labels)
    digits = load_digits()
    gray = torch.as_tensor(np.asarray(digits.images) / 16.0, dtype=torch.float32)
    y = torch.as_tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=generator)
    parts = order.tensor_split(3)
    src = parts[0] if n_labels is None else parts[0][:n_labels]
    p_target = p_spurious if not shift else 0.0
    out = []
    for idx, p in ((src, p_spurious), (parts[1], p_target), (parts[2], p_target)):
        colours = spurious_colours(y[idx], p, generator)
        out += [colour_digits(gray[idx], colours), y[idx]]
    return ShiftSplit(*out)
