"""Explicit penalties that mimic J-SAM (Baek et al., 2024, Sec. 4.2 and Eq. for the two-layer
linear network): J-SAM on f = v^T W x equals SGD plus rho * sg(sigma(-t f)/N) * grad of
    1/2 ||W x||^2 + 1/2 ||x||^2 ||v||^2,
i.e. an L2 penalty on the intermediate features (W x) and on the last-layer weights (v).
The cheap alternative trains with SGD on loss + these two terms with fixed coefficients.
"""

from __future__ import annotations

import torch

from robustbook._checks import check_number, require
from robustbook.optim.sam import _check_rho


def feature_norm_penalty(features: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of 1/2 ||h_i||^2; ``features``: (B, D) penultimate activations."""
    require(features.ndim == 2, f"features must be (B, D) penultimate activations, got shape "
                                f"{tuple(features.shape)}")
    return 0.5 * features.pow(2).sum(dim=1).mean()


def last_layer_weight_penalty(weight: torch.Tensor) -> torch.Tensor:
    """1/2 ||V||_F^2 of the last layer's weight matrix (C, D) (bias not included)."""
    require(weight.ndim == 2, f"weight must be the last layer's (C, D) weight matrix, got shape "
                              f"{tuple(weight.shape)}")
    return 0.5 * weight.pow(2).sum()


def make_penalized_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn, *,
                        weight_penalty: float, feature_penalty: float):
    """SGD step on loss + ``weight_penalty`` * 1/2||V||^2 + ``feature_penalty`` * mean 1/2||h||^2.

    One gradient per step (the cheap alternative to SAM). ``model`` must expose ``features(x)``
    and a linear ``head``. Returns ``step(xb, yb) -> loss`` (the unpenalized loss) for ``fit``.
    """
    check_number("weight_penalty", weight_penalty, low=0)
    check_number("feature_penalty", feature_penalty, low=0)
    if not (hasattr(model, "features") and hasattr(getattr(model, "head", None), "weight")):
        raise TypeError(f"model must expose features(x) and a linear head (with .weight), got {type(model).__name__}")

    def step(xb: torch.Tensor, yb: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        h = model.features(xb)
        loss = loss_fn(model.head(h), yb)
        total = (loss + weight_penalty * last_layer_weight_penalty(model.head.weight)
                 + feature_penalty * feature_norm_penalty(h))
        total.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def jsam_two_layer_penalty(model: torch.nn.Module, x: torch.Tensor, signs: torch.Tensor,
                           rho: float) -> torch.Tensor:
    """The penalty whose gradient is J-SAM's extra term on f = v^T W x (1-SAM, logistic loss):

        mean_i rho * sg(sigma(-t_i f_i) / N_i) * (1/2 ||W x_i||^2 + 1/2 ||x_i||^2 ||v||^2),
        N_i = sqrt(||W x_i||^2 + ||x_i||^2 ||v||^2)   (= ||grad_w f(x_i)||),

    so grad(mean logistic loss + this) equals the J-SAM gradient exactly (Baek et al., 2024,
    Sec. 4.2). ``model``: a ``TwoLayerLinear``; x (N, d); ``signs`` t in {-1, +1}, (N,).
    """
    _check_rho(rho)
    require(x.ndim == 2, f"x must be (N, d), got shape {tuple(x.shape)}")
    require(tuple(signs.shape) == (len(x),), f"signs must be (N,) = ({len(x)},) like x, got shape "
                                             f"{tuple(signs.shape)}")
    h = model.features(x)                       # W x_i: (N, width)
    f = model.head(h).squeeze(-1)               # (N,)
    h2, x2 = h.pow(2).sum(1), x.pow(2).sum(1)   # (N,)
    v2 = model.head.weight.pow(2).sum()
    jac_norm = torch.sqrt(h2 + x2 * v2)
    coef = (rho * torch.sigmoid(-signs * f) / jac_norm).detach()
    return (coef * (0.5 * h2 + 0.5 * x2 * v2)).mean()
