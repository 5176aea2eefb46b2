"""Synthetic data generators."""

from __future__ import annotations

import torch

from robustbook._checks import check_int, check_number
from robustbook.data.tensors import TensorSplit


def gaussian_binary_classification(*, n_train: int, n_test: int, dim: int, noise_rate: float,
                                   margin: float, seed: int) -> TensorSplit:
    """Two Gaussian classes, labels t in {0, 1} (use ``2t - 1`` for +-1), means +-``margin``
    along a random unit direction u, identity covariance: x = (2t-1) * margin * u + z.

    Training labels are flipped with probability ``noise_rate`` (test labels clean). x: (N, dim).
    """
    if not 0.0 <= noise_rate < 1.0:
        raise ValueError(f"label noise rate noise_rate must be in [0, 1), got {noise_rate}")
    check_int("n_train", n_train)
    check_int("n_test", n_test, minimum=0)
    check_int("dim", dim)
    check_number("margin", margin, low=0)
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(dim, generator=gen)
    u = u / u.norm()

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.randint(0, 2, (n,), generator=gen)
        x = (2 * t - 1).unsqueeze(1).float() * margin * u + torch.randn(n, dim, generator=gen)
        return x, t

    x_tr, t_tr = sample(n_train)
    x_te, t_te = sample(n_test)
    flip = torch.rand(n_train, generator=gen) < noise_rate
    return TensorSplit(x_tr, torch.where(flip, 1 - t_tr, t_tr), t_tr, x_te, t_te)
