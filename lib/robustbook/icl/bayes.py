"""Bayes-optimal in-context predictors for the regression task families (closed forms).

For every prefix length ``j`` (using examples ``1..j``) they predict ``y_{j+1}`` from ``x_{j+1}``,
so ``pred[:, j]`` is comparable with the transformer's output at query position ``j`` (j = 0: no
examples, the prior mean). Noise is Gaussian with standard deviation ``sigma``.

- Continuous prior ``w ~ N(0, I)``: the posterior mean is ridge regression,
  ``w_hat = (X^T X + sigma^2 I)^{-1} X^T y``.
- Discrete prior (uniform over a pool ``W``): posterior ``p(w_m | D) ∝ exp(-||y - X w_m||^2 / 2 sigma^2)``.
- Mixture with prior ``P(discrete) = p``: the two predictions weighted by the family posterior,
  from each family's marginal likelihood (continuous: ``y ~ N(0, X X^T + sigma^2 I)``).
"""

from __future__ import annotations

import math

import torch

from robustbook._checks import check_number, require


def _check(x: torch.Tensor, y: torch.Tensor, sigma: float, pool: torch.Tensor | None = None) -> None:
    """Prompts x (B, k, d), y (B, k); noise sigma > 0 (the posteriors divide by it); pool (M, d)."""
    require(x.ndim == 3 and tuple(y.shape) == tuple(x.shape[:2]),
            f"x must be (B, k, d) and y (B, k), got {tuple(x.shape)} and {tuple(y.shape)}")
    check_number("sigma", sigma, low=0, low_open=True)
    if pool is not None:
        require(pool.ndim == 2 and len(pool) > 0 and pool.shape[1] == x.shape[2],
                f"pool must be (M >= 1, d={x.shape[2]}), got shape {tuple(pool.shape)}")


def _prefix_masks(k: int, dtype: torch.dtype) -> torch.Tensor:
    """(k, k) mask: row j keeps examples 0..j-1 (the prefix before query j)."""
    return torch.tril(torch.ones(k, k, dtype=dtype), diagonal=-1)


def ridge_predictions(x: torch.Tensor, y: torch.Tensor, sigma: float) -> torch.Tensor:
    """Posterior-mean predictions under ``w ~ N(0, I)``: (B, k) from ``x`` (B, k, d), ``y`` (B, k)."""
    _check(x, y, sigma)
    b, k, d = x.shape
    m = _prefix_masks(k, x.dtype)                                   # (k, k)
    xtx = torch.einsum("jn,bnd,bne->bjde", m, x, x)                 # (B, k, d, d)
    xty = torch.einsum("jn,bnd,bn->bjd", m, x, y)                   # (B, k, d)
    eye = torch.eye(d, dtype=x.dtype)
    w_hat = torch.linalg.solve(xtx + sigma**2 * eye, xty[..., None])[..., 0]
    return (w_hat * x).sum(-1)


def _discrete_log_lik(x: torch.Tensor, y: torch.Tensor, pool: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, k, M): log p(prefix before query j | w_m), without the shared Gaussian constant."""
    resid2 = (y[..., None] - torch.einsum("bkd,md->bkm", x, pool)) ** 2    # (B, k, M)
    prefix = torch.einsum("jn,bnm->bjm", _prefix_masks(x.shape[1], x.dtype), resid2)
    return -prefix / (2 * sigma**2)


def discrete_predictions(x: torch.Tensor, y: torch.Tensor, pool: torch.Tensor, sigma: float) -> torch.Tensor:
    """Posterior-mean predictions under the uniform prior over ``pool`` (M, d): (B, k)."""
    _check(x, y, sigma, pool)
    post = torch.softmax(_discrete_log_lik(x, y, pool, sigma), dim=-1)      # (B, k, M)
    return torch.einsum("bkm,bkm->bk", post, torch.einsum("bkd,md->bkm", x, pool))


def _continuous_log_marginal(x: torch.Tensor, y: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, k): log N(y_prefix; 0, X X^T + sigma^2 I) without the shared (2 pi)^{-j/2} constant,
    via the matrix determinant lemma and Woodbury in d dimensions."""
    b, k, d = x.shape
    m = _prefix_masks(k, x.dtype)
    xtx = torch.einsum("jn,bnd,bne->bjde", m, x, x)
    xty = torch.einsum("jn,bnd,bn->bjd", m, x, y)
    yty = torch.einsum("jn,bn->bj", m, y * y)
    n = m.sum(1)                                                    # (k,) prefix lengths
    a = xtx + sigma**2 * torch.eye(d, dtype=x.dtype)                # sigma^2 (I + X^T X / sigma^2)
    quad = (yty - (xty[..., None, :] @ torch.linalg.solve(a, xty[..., None]))[..., 0, 0]) / sigma**2
    logdet = torch.logdet(a) - 2 * d * math.log(sigma) + 2 * n * math.log(sigma)
    return -0.5 * (quad + logdet)


def family_posterior(x: torch.Tensor, y: torch.Tensor, pool: torch.Tensor, sigma: float,
                     p_discrete: float) -> torch.Tensor:
    """(B, k): P(discrete family | prefix before query j) under prior ``P(discrete) = p_discrete``."""
    _check(x, y, sigma, pool)
    check_number("p_discrete", p_discrete, low=0, high=1)
    if p_discrete in (0.0, 1.0):
        return torch.full(y.shape, p_discrete, dtype=y.dtype)
    log_disc = torch.logsumexp(_discrete_log_lik(x, y, pool, sigma), -1) - math.log(len(pool))
    n = _prefix_masks(x.shape[1], x.dtype).sum(1)
    log_disc = log_disc - n * math.log(sigma)                       # same constants as the marginal
    logit = log_disc - _continuous_log_marginal(x, y, sigma) + math.log(p_discrete / (1 - p_discrete))
    return torch.sigmoid(logit)


def mixture_predictions(x: torch.Tensor, y: torch.Tensor, pool: torch.Tensor, sigma: float,
                        p_discrete: float) -> torch.Tensor:
    """Bayes-optimal predictions (B, k) under the mixture prior with ``P(discrete) = p_discrete``."""
    q = family_posterior(x, y, pool, sigma, p_discrete)
    return q * discrete_predictions(x, y, pool, sigma) + (1 - q) * ridge_predictions(x, y, sigma)
