"""Task samplers for in-context linear regression (Kotha et al., 2024, Sec. 3; Garg et al., 2022).

A prompt is ``(x_1, y_1, ..., x_k, y_k)`` with ``y_i = <w, x_i> + sigma * eps_i``, ``x_i ~ N(0, I_d)``.
The *discrete* family draws ``w`` uniformly from a fixed pool; the *continuous* family draws
``w ~ N(0, I_d)``; the pretraining mixture takes the discrete family with probability ``p_discrete``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from robustbook._checks import check_int, check_number, require


@dataclass(frozen=True)
class Prompts:
    """A batch of regression prompts: ``x`` (B, k, d), ``y`` (B, k), true ``w`` (B, d),
    ``discrete`` (B,) bool (which family each prompt came from)."""

    x: torch.Tensor
    y: torch.Tensor
    w: torch.Tensor
    discrete: torch.Tensor


def task_pool(n_tasks: int, dim: int, *, generator: torch.Generator) -> torch.Tensor:
    """The discrete family's fixed pool of weight vectors, (n_tasks, dim), drawn from N(0, I)."""
    if n_tasks < 1 or dim < 1:
        raise ValueError(f"n_tasks and dim must be >= 1, got {n_tasks}, {dim}")
    check_int("n_tasks", n_tasks)
    check_int("dim", dim)
    return torch.randn(n_tasks, dim, generator=generator)


def sample_weights(batch: int, pool: torch.Tensor, p_discrete: float, *,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Task vectors of a mixture: (B, d) weights and a (B,) bool mask of discrete draws.
    ``p_discrete=1`` is the fine-tuning distribution, ``0`` the continuous family alone."""
    if not 0.0 <= p_discrete <= 1.0:
        raise ValueError(f"p_discrete must be in [0, 1], got {p_discrete}")
    check_int("batch", batch)
    require(pool.ndim == 2 and len(pool) > 0, f"pool must be (n_tasks >= 1, dim), got shape {tuple(pool.shape)}")
    dim = pool.shape[1]
    discrete = torch.rand(batch, generator=generator) < p_discrete
    from_pool = pool[torch.randint(len(pool), (batch,), generator=generator)]
    gaussian = torch.randn(batch, dim, generator=generator)
    return torch.where(discrete[:, None], from_pool, gaussian), discrete


def sample_prompts(batch: int, k: int, pool: torch.Tensor, *, p_discrete: float, sigma: float,
                   generator: torch.Generator) -> Prompts:
    """``batch`` prompts of ``k`` examples each from the mixture (Eq. y = <w, x> + sigma * eps)."""
    check_int("k", k)
    check_number("sigma", sigma, low=0)
    w, discrete = sample_weights(batch, pool, p_discrete, generator=generator)
    x = torch.randn(batch, k, pool.shape[1], generator=generator)
    y = torch.einsum("bkd,bd->bk", x, w) + sigma * torch.randn(batch, k, generator=generator)
    return Prompts(x, y, w, discrete)
