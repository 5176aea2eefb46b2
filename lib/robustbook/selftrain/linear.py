"""Linear contrastive learning and self-training, the objects of the theory in Garg et al. (2023,
Sec. 4): a linear encoder ``z = W x`` trained with the spectral contrastive loss under Gaussian
augmentation ``x + sigma * N(0, I)``, a logistic head, and entropy-minimisation self-training.

Closed form (derived for this book). With ``S = E[x x^T]`` (second moment of the un-augmented data,
eigenpairs ``(lambda_i, u_i)``), the population spectral loss of ``W`` (k, d) is

    L(W) = -2 tr(W S W^T) + ||W (S + sigma^2 I) W^T||_F^2,

minimised by ``W = diag(c) U_k^T`` with U_k the top-k eigenvectors and
``c_i = sqrt(lambda_i) / (lambda_i + sigma^2)`` (unique up to a k x k rotation of the rows),
reaching ``-sum_i lambda_i^2 / (lambda_i + sigma^2)^2``. For lambda_i >> sigma^2 the features are
close to *whitened* along the top-k directions: that equalises a high-variance spurious direction
with a low-variance but clustered invariant one.
"""

from __future__ import annotations

import math
import numbers

import torch
from sklearn.linear_model import LogisticRegression

from robustbook._checks import check_int, check_number, require
from robustbook.selftrain.losses import entropy_loss, spectral_contrastive_loss


def _check_square(s: torch.Tensor) -> None:
    require(s.ndim == 2 and s.shape[0] == s.shape[1], f"s must be a square (d, d) matrix, got shape {tuple(s.shape)}")


def second_moment(x: torch.Tensor) -> torch.Tensor:
    """x (N, d) -> E[x x^T] (d, d), uncentred."""
    require(x.ndim == 2 and x.shape[0] > 0, f"x must be (N, d) with N >= 1, got shape {tuple(x.shape)}")
    return x.T @ x / x.shape[0]


def population_spectral_loss(w: torch.Tensor, s: torch.Tensor, sigma: float) -> torch.Tensor:
    """L(W) above for W (k, d), S (d, d)."""
    _check_square(s)
    require(w.ndim == 2 and w.shape[1] == s.shape[0], f"w must be (k, d={s.shape[0]}), got shape {tuple(w.shape)}")
    check_number("sigma", sigma)
    aug = s + sigma**2 * torch.eye(s.shape[0], dtype=s.dtype)
    return -2.0 * torch.trace(w @ s @ w.T) + ((w @ aug @ w.T) ** 2).sum()


def spectral_closed_form(s: torch.Tensor, k: int, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The minimiser W (k, d) of ``population_spectral_loss`` and the top-k eigenvalues (k,),
    largest first."""
    _check_square(s)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= s.shape[0]:
        raise ValueError(f"k must be in [1, {s.shape[0]}], got {k}")
    check_number("sigma", sigma)
    evals, evecs = torch.linalg.eigh(s)                    # ascending
    lam, u = evals.flip(0)[:k].clamp_min(0), evecs.flip(1)[:, :k]
    c = lam.sqrt() / (lam + sigma**2)
    return c[:, None] * u.T, lam


def spectral_optimum_value(lam: torch.Tensor, sigma: float) -> float:
    """The minimum of ``population_spectral_loss`` given the top-k eigenvalues."""
    check_number("sigma", sigma)
    return float(-(lam**2 / (lam + sigma**2) ** 2).sum())


def fit_spectral_sgd(x: torch.Tensor, *, k: int, sigma: float, steps: int, lr: float,
                     batch_size: int, generator: torch.Generator, init_scale: float = 0.01
                     ) -> torch.Tensor:
    """A linear encoder W (k, d) trained by Adam on the empirical spectral contrastive loss: each
    step draws ``batch_size`` points of x (N, d) and two Gaussian augmentations of each."""
    require(x.ndim == 2 and x.shape[0] > 0, f"x must be (N, d) with N >= 1, got shape {tuple(x.shape)}")
    check_int("k", k)
    check_int("steps", steps, minimum=0)
    check_int("batch_size", batch_size, minimum=2)  # the spectral loss needs two pairs
    check_number("sigma", sigma, low=0)
    check_number("lr", lr, low=0)
    check_number("init_scale", init_scale)
    n, d = x.shape
    w = (init_scale * torch.randn(k, d, generator=generator, dtype=x.dtype)).requires_grad_()
    opt = torch.optim.Adam([w], lr=lr)
    for _ in range(steps):
        xb = x[torch.randint(0, n, (batch_size,), generator=generator)]
        a1 = xb + sigma * torch.randn(xb.shape, generator=generator, dtype=x.dtype)
        a2 = xb + sigma * torch.randn(xb.shape, generator=generator, dtype=x.dtype)
        loss = spectral_contrastive_loss(a1 @ w.T, a2 @ w.T)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.detach()


def subspace_alignment(w: torch.Tensor, w_ref: torch.Tensor) -> float:
    """Mean squared cosine of the principal angles between the row spaces of W and W_ref (k, d):
    1 when they span the same subspace, 0 when orthogonal."""
    require(w.ndim == 2 and w.shape == w_ref.shape,
            f"w and w_ref must both be (k, d), got {tuple(w.shape)} and {tuple(w_ref.shape)}")
    qa, qb = torch.linalg.qr(w.T)[0], torch.linalg.qr(w_ref.T)[0]
    return float((torch.linalg.svdvals(qa.T @ qb) ** 2).mean())


def fit_logistic(z: torch.Tensor, y: torch.Tensor, *, l2: float) -> tuple[torch.Tensor, float]:
    """L2-regularised logistic regression (scikit-learn, lbfgs): penalty (l2 / 2) ||w||^2 on the
    mean loss. z (N, k), y (N,) in {-1, +1} -> (w (k,), bias)."""
    check_number("l2", l2, low=0, low_open=True)
    require(z.ndim == 2 and tuple(y.shape) == (z.shape[0],),
            f"z must be (N, k) and y (N,), got {tuple(z.shape)} and {tuple(y.shape)}")
    clf = LogisticRegression(C=1.0 / (l2 * len(y)), max_iter=2000, tol=1e-8)
    clf.fit(z.numpy(), (y > 0).numpy().astype(int))
    return torch.as_tensor(clf.coef_[0], dtype=z.dtype), float(clf.intercept_[0])


def linear_accuracy(z: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: float) -> float:
    """Accuracy of sign(z w + b) against y in {-1, +1}."""
    require(z.ndim == 2 and z.shape[0] > 0 and tuple(w.shape) == (z.shape[1],) and tuple(y.shape) == (z.shape[0],),
            f"z must be (N, k) with N >= 1, w (k,) and y (N,), got {tuple(z.shape)}, {tuple(w.shape)}, {tuple(y.shape)}")
    return float(((z @ w + b > 0) == (y > 0)).double().mean())


def entropy_self_train(z: torch.Tensor, w: torch.Tensor, b: float, *, steps: int, lr: float,
                       logit_scale: float, record_every: int = 1) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Entropy minimisation on unlabelled z (N, k) from the head (w, b), turning w only.

    The bias b is held fixed (moving it towards one class is a trivial way to lower the entropy)
    and w is rescaled so that the logits ``z w`` have standard deviation ``logit_scale`` over z (a
    large scale makes the entropy favour low-density separators). Each step moves w by the angle
    ``lr * (1 - t / steps)`` (relative to |w|) against the entropy gradient's component tangent to
    the set {w : std(z w) = logit_scale}, i.e. orthogonal to C w with C the covariance of z (the
    part of the gradient that would only change the scale is removed; a Euclidean projection would
    instead leak towards high-variance directions).
    Returns (w, [w at steps 0, record_every, 2 * record_every, ...])."""
    check_number("logit_scale", logit_scale, low=0, low_open=True)
    check_int("steps", steps, minimum=0)
    check_number("lr", lr, low=0)
    check_int("record_every", record_every)
    require(z.ndim == 2 and tuple(w.shape) == (z.shape[1],),
            f"z must be (N, k) and w (k,), got {tuple(z.shape)} and {tuple(w.shape)}")
    if float(w.norm()) == 0 or logit_scale <= 0:
        raise ValueError("self-training needs a non-zero initial head and logit_scale > 0")

    def rescaled(v: torch.Tensor) -> torch.Tensor:
        return v * (logit_scale / (z @ v).std())

    cov = torch.cov(z.T).reshape(z.shape[1], z.shape[1])
    w = rescaled(w.clone())
    path = [w.clone()]
    for t in range(steps):
        w.requires_grad_()
        (grad,) = torch.autograd.grad(entropy_loss(z @ w + b), (w,))
        w = w.detach()
        normal = cov @ w
        tangent = grad - (grad @ normal) / (normal @ normal) * normal
        if float(tangent.norm()) > 0:
            w = rescaled(w - lr * (1 - t / steps) * w.norm() * tangent / tangent.norm())
        if (t + 1) % record_every == 0:
            path.append(w.clone())
    return w, path


def angle_to(w: torch.Tensor, direction: torch.Tensor) -> float:
    """Angle in degrees between w and a direction."""
    require(w.shape == direction.shape and w.ndim == 1,
            f"w and direction must both be (d,), got {tuple(w.shape)} and {tuple(direction.shape)}")
    require(float(w.norm()) > 0 and float(direction.norm()) > 0, "w and direction must be non-zero vectors")
    cos = float(w @ direction / (w.norm() * direction.norm()))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))
