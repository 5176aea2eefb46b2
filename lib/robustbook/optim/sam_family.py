"""The SAM family as gradients: SGD, SAM, L-SAM (logit-only) and J-SAM (Jacobian-only).

Baek, Kolter & Raghunathan (2024), "Why is SAM robust to label noise?", Sec. 3-4. The per-example
gradient factorises through the logits f:  grad_w l(f(w,x), y) = J_f(w,x)^T r,  r = dl/df
(r = softmax(f) - e_y for cross-entropy). With the SAM perturbation eps = rho * g / ||g||:

    SAM   : J_f(w+eps, x)^T r(f(w+eps, x))
    L-SAM : J_f(w,     x)^T r(f(w+eps, x))     only the logit-scale term is perturbed
    J-SAM : J_f(w+eps, x)^T r(f(w,     x))     only the Jacobian is perturbed

Each is the gradient of a *surrogate* sum_i <f(w', x_i), sg(r_i)> taken at the right point w'
(sg = stop-gradient), which is how they are computed here, with torch.func.

``per_example=True`` is 1-SAM (each example gets its own eps_i from its own gradient; the paper's
gains are largest there); ``per_example=False`` is mini-batch SAM (one eps from the batch mean).
Special cases (tested): rho=0 gives SGD's gradient exactly; for a linear model J-SAM == SGD and
SAM == L-SAM.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

VARIANTS = ("sgd", "sam", "lsam", "jsam")

Params = dict[str, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _add_scaled(params: Params, direction: Params, scale: torch.Tensor) -> Params:
    return {k: params[k] + scale * direction[k] for k in params}


def _global_norm(tensors: Params) -> torch.Tensor:
    return torch.sqrt(sum((t * t).sum() for t in tensors.values()))


def _batch_gradient(model: nn.Module, loss_fn: LossFn, variant: str, rho: float,
                    params: Params, buffers: Params, x: torch.Tensor, y: torch.Tensor) -> Params:
    """Gradient of one variant for one batch (x: (B, ...), y: (B, ...)); eps from this batch."""

    def logits(p: Params) -> torch.Tensor:
        return functional_call(model, {**p, **buffers}, (x,))

    def loss(p: Params) -> torch.Tensor:
        return loss_fn(logits(p), y)

    def residual(p: Params) -> torch.Tensor:
        # r = dl/df at the logits of p, shape (B, C); it already carries the 1/B of a mean loss.
        f = logits(p).detach()
        return grad(lambda f_: loss_fn(f_, y))(f)

    def surrogate_grad(at: Params, r: torch.Tensor) -> Params:
        # d/dw <f(w, x), r> at w = at  ==  J_f(at, x)^T r
        return grad(lambda p: (logits(p) * r).sum())(at)

    g = grad(loss)(params)
    if variant == "sgd":
        return g
    perturbed = _add_scaled(params, g, rho / (_global_norm(g) + 1e-12))
    if variant == "sam":
        return grad(loss)(perturbed)
    if variant == "lsam":
        return surrogate_grad(params, residual(perturbed))
    return surrogate_grad(perturbed, residual(params))  # jsam


def family_gradient(model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, *,
                    variant: str, rho: float, per_example: bool = True,
                    chunk_size: int | None = None) -> Params:
    """Gradient of the mean loss over (x, y) under one SAM-family ``variant``, at the model's
    current parameters. Returns ``{name: tensor}`` shaped like ``model.named_parameters()``.

    ``loss_fn(logits, y)`` must be a *mean* over the batch (e.g. ``F.cross_entropy``).
    ``per_example=True`` (1-SAM) vmaps the computation over examples; ``chunk_size`` bounds the
    memory of that vmap for big networks.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if rho < 0:
        raise ValueError(f"rho must be non-negative, got {rho}")
    params = {k: p.detach() for k, p in model.named_parameters()}
    buffers = {k: b.detach() for k, b in model.named_buffers()}
    if not per_example or variant == "sgd":
        return _batch_gradient(model, loss_fn, variant, rho, params, buffers, x, y)

    def one(xi: torch.Tensor, yi: torch.Tensor) -> Params:
        return _batch_gradient(model, loss_fn, variant, rho, params, buffers, xi[None], yi[None])

    per_ex = vmap(one, chunk_size=chunk_size)(x, y)
    return {k: g.mean(0) for k, g in per_ex.items()}


def set_gradients(model: nn.Module, grads: Params) -> None:
    """Write ``grads`` into ``p.grad`` so any torch optimizer can take the step."""
    for name, p in model.named_parameters():
        p.grad = grads[name].detach().clone()


def make_family_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: LossFn, *,
                     variant: str, rho: float, per_example: bool = True,
                     chunk_size: int | None = None) -> Callable[[torch.Tensor, torch.Tensor], float]:
    """A ``step(xb, yb) -> loss`` for ``robustbook.train.fit``: the variant's gradient, then
    ``optimizer.step()`` (so weight decay, momentum and schedulers stay the base optimizer's)."""

    def step(xb: torch.Tensor, yb: torch.Tensor) -> float:
        with torch.no_grad():
            loss = float(loss_fn(model(xb), yb))
        set_gradients(model, family_gradient(model, loss_fn, xb, yb, variant=variant, rho=rho,
                                             per_example=per_example, chunk_size=chunk_size))
        optimizer.step()
        return loss

    return step


def linear_sam_weights(logits: torch.Tensor, signs: torch.Tensor, x_norms: torch.Tensor,
                       rho: float) -> torch.Tensor:
    """Per-example gradient weights of 1-SAM on a linear model f = <w, x> with logistic loss
    (Baek et al., 2024, Sec. 3): sigma(-t_i <w, x_i> + rho ||x_i||), t_i = ``signs`` in {-1, +1}.

    The 1-SAM gradient is -mean_i weight_i * t_i * x_i; rho=0 gives SGD's weights sigma(-t_i f_i).
    Shapes: all (N,)."""
    return torch.sigmoid(-signs * logits + rho * x_norms)
