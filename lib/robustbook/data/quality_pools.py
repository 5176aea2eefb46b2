"""Synthetic web-like pools made of quality buckets (for data-filtering scaling laws).

A pool is a list of equally sized buckets ordered best first; bucket i carries label noise at rate
``noise_rates[i]`` (the stand-in for a quality score such as T-MARS or CLIP score: filtering keeps
the top buckets). The test set is clean and drawn from the same distribution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from robustbook._checks import check_int, check_number
from robustbook.data.noise import symmetric_label_noise


@dataclass(frozen=True)
class QualityPool:
    """``x`` (M*S, dim) with ``bucket`` (M*S,) in 0..M-1 (0 = best); ``y`` the (noisy) training
    labels, ``y_clean`` the true ones; ``x_test``/``y_test`` clean; ``bayes_error`` the test error
    of the Bayes classifier (the irreducible error d of the scaling law)."""

    x: torch.Tensor
    y: torch.Tensor
    y_clean: torch.Tensor
    bucket: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    noise_rates: tuple[float, ...]
    bayes_error: float

    @property
    def n_buckets(self) -> int:
        return len(self.noise_rates)

    @property
    def bucket_size(self) -> int:
        return len(self.x) // self.n_buckets

    def buckets(self, ids) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) of the union of the buckets ``ids`` (e.g. ``range(m)`` for the top-m pool)."""
        mask = torch.isin(self.bucket, torch.as_tensor(list(ids)))
        return self.x[mask], self.y[mask]

    def top(self, m: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The filtered pool that keeps the m best buckets."""
        if not 1 <= m <= self.n_buckets:
            raise ValueError(f"m must be in 1..{self.n_buckets}, got {m}")
        return self.buckets(range(m))


def _gaussian_mixture(n: int, means: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n points, classes uniform, x = mu_y + z with z ~ N(0, I). means: (C, dim)."""
    y = torch.randint(0, len(means), (n,), generator=gen)
    return means[y] + torch.randn(n, means.shape[1], generator=gen), y


def bayes_predict(x: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """Bayes classifier of an equal-prior, identity-covariance Gaussian mixture: nearest mean."""
    return torch.cdist(x, means).argmin(dim=1)


def gaussian_quality_pool(*, bucket_size: int, noise_rates: tuple[float, ...], n_classes: int = 10,
                          dim: int = 16, separation: float = 3.0, n_test: int = 5000,
                          seed: int) -> QualityPool:
    """A ``n_classes`` Gaussian mixture in ``dim`` dimensions (class means ~ N(0, I) scaled to
    norm ``separation`` / sqrt(2), so mean pairs are ~``separation`` apart); M = len(noise_rates)
    buckets of ``bucket_size`` samples, bucket i with symmetric label noise noise_rates[i].
    Everything (means, samples, noise) is drawn from ``seed``."""
    if bucket_size < 1 or not noise_rates:
        raise ValueError(f"need bucket_size >= 1 and at least one bucket, got {bucket_size}, {noise_rates}")
    if n_classes < 2 or dim < 1 or separation <= 0:
        raise ValueError(f"need n_classes >= 2, dim >= 1, separation > 0, got {n_classes}, {dim}, {separation}")
    check_int("bucket_size", bucket_size)
    check_int("n_classes", n_classes, minimum=2)
    check_int("dim", dim)
    check_number("separation", separation, low=0, low_open=True)
    check_int("n_test", n_test)
    for i, rate in enumerate(noise_rates):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"noise_rates[{i}] must be a label noise rate in [0, 1), got {rate}")
    gen = torch.Generator().manual_seed(seed)
    means = torch.randn(n_classes, dim, generator=gen)
    means = means / means.norm(dim=1, keepdim=True) * separation / math.sqrt(2)
    x, y_clean = _gaussian_mixture(bucket_size * len(noise_rates), means, gen)
    bucket = torch.arange(len(noise_rates)).repeat_interleave(bucket_size)
    y = y_clean.clone()
    for i, rate in enumerate(noise_rates):
        mask = bucket == i
        y[mask] = symmetric_label_noise(y_clean[mask], rate, n_classes, gen)
    x_test, y_test = _gaussian_mixture(n_test, means, gen)
    bayes = float((bayes_predict(x_test, means) != y_test).float().mean())
    return QualityPool(x, y, y_clean, bucket, x_test, y_test, tuple(float(r) for r in noise_rates), bayes)
