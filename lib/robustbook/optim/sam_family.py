"""The SAM family as gradients: SGD, SAM, L-SAM (logit-only) and J-SAM (Jacobian-only).

Baek, Kolter & Raghunathan (2024), "Why is SAM robust to label noise?", Sec. 3-4. The per-example
gradient factorises through the logits f:  grad_w l(f(w,x), y) = J_f(w,x)^T r,  r = dl/df
(r = softmax(f) - e_y for cross-entropy). With the SAM perturbation eps = rho * g / ||g||:

    SAM   : J_f(w+eps, x)^T r(f(w+eps, x))
    L-SAM : J_f(w,     x)^T r(f(w+eps, x))     only the logit-scale term is perturbed
    J-SAM : J_f(w+eps, x)^T r(f(w,     x))     only the Jacobian is perturbed

Each is a vector-Jacobian product J_f(w')^T sg(r) at the right point w' (sg = stop-gradient), which
is how they are computed here: with plain autograd for mini-batches (weights moved to w + eps and
back, as the SAM optimizer does) and with torch.func (vjp inside vmap) per example.

``per_example=True`` is 1-SAM (each example gets its own eps_i from its own gradient; the paper's
gains are largest there); ``per_example=False`` is mini-batch SAM (one eps from the batch mean).
Special cases (tested): rho=0 gives SGD's gradient exactly; for a linear model J-SAM == SGD and
SAM == L-SAM.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vjp, vmap

from robustbook._checks import require
from robustbook.optim.sam import _check_rho, frozen_bn_stats

VARIANTS = ("sgd", "sam", "lsam", "jsam")

Params = dict[str, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _add_scaled(params: Params, direction: Params, scale: torch.Tensor) -> Params:
    return {k: params[k] + scale * direction[k] for k in params}


def _global_norm(tensors: Params) -> torch.Tensor:
    return torch.sqrt(sum((t * t).sum() for t in tensors.values()))


def _batch_gradient(model: nn.Module, loss_fn: LossFn, variant: str, rho: float, params: Params,
                    buffers: Params, x: torch.Tensor, y: torch.Tensor) -> tuple[Params, torch.Tensor]:
    """(gradient of one variant, loss at w) for one batch (x: (B, ...), y: (B, ...)); eps from
    this batch. Every variant costs two forward and two backward passes, like SAM itself: the
    vector-Jacobian product at w is reused by L-SAM."""

    def logits(p: Params) -> torch.Tensor:
        return functional_call(model, {**p, **buffers}, (x,))

    def residual(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # r = dl/df at logits f, shape (B, C); it already carries the 1/B of a mean loss.
        return grad_and_value(lambda f_: loss_fn(f_, y))(f.detach())

    f_w, jac_t_w = vjp(logits, params)           # J_f(w)^T r is jac_t_w(r)
    r_w, loss = residual(f_w)
    (g,) = jac_t_w(r_w)
    if variant == "sgd":
        return g, loss
    perturbed = _add_scaled(params, g, rho / (_global_norm(g) + 1e-12))
    if variant == "lsam":                        # J_f(w)^T r(f(w + eps))
        return jac_t_w(residual(logits(perturbed))[0])[0], loss
    f_p, jac_t_p = vjp(logits, perturbed)
    if variant == "sam":                         # J_f(w + eps)^T r(f(w + eps))
        return jac_t_p(residual(f_p)[0])[0], loss
    return jac_t_p(r_w)[0], loss                 # jsam: J_f(w + eps)^T r(f(w))


def _batch_gradient_inplace(model: nn.Module, loss_fn: LossFn, variant: str, rho: float,
                            x: torch.Tensor, y: torch.Tensor) -> tuple[Params, torch.Tensor]:
    """Mini-batch version of ``_batch_gradient`` with plain autograd, moving the model's own
    weights to w + eps and back (as the SAM optimizer does): the same math with less overhead
    for small networks. BatchNorm statistics are only updated by the first forward pass."""
    names, params = zip(*[(k, p) for k, p in model.named_parameters() if p.requires_grad])

    def residual(f: torch.Tensor) -> torch.Tensor:
        f = f.detach().requires_grad_(True)
        return torch.autograd.grad(loss_fn(f, y), f)[0]  # dl/df, (B, C), carries the 1/B

    f_w = model(x)
    loss = loss_fn(f_w, y)
    r_w = residual(f_w)
    g = torch.autograd.grad(f_w, params, r_w)
    if variant == "sgd":
        return dict(zip(names, g)), loss.detach()
    saved = [p.detach().clone() for p in params]
    scale = float(rho / (torch.sqrt(sum((gi * gi).sum() for gi in g)) + 1e-12))
    with torch.no_grad():
        for p, gi in zip(params, g):
            p.add_(gi, alpha=scale)
    try:
        with frozen_bn_stats(model):
            f_p = model(x)                              # logits at w + eps
            r_p = residual(f_p)
            if variant != "lsam":                       # Jacobian at w + eps
                grads = torch.autograd.grad(f_p, params, r_p if variant == "sam" else r_w)
    finally:
        with torch.no_grad():
            for p, w in zip(params, saved):
                p.copy_(w)
    if variant == "lsam":                               # Jacobian at w, residual at w + eps
        with frozen_bn_stats(model):
            grads = torch.autograd.grad(model(x), params, r_p)
    return dict(zip(names, grads)), loss.detach()


def _check_family_args(variant: str, rho: float, chunk_size: int | None) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    _check_rho(rho)
    require(chunk_size is None or (isinstance(chunk_size, numbers.Integral) and not isinstance(chunk_size, bool)
                                   and chunk_size >= 1),
            f"chunk_size must be None or an integer >= 1, got {chunk_size!r}")


def family_gradient(model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, *,
                    variant: str, rho: float, per_example: bool = True,
                    chunk_size: int | None = None, return_loss: bool = False):
    """Gradient of the mean loss over (x, y) under one SAM-family ``variant``, at the model's
    current parameters. Returns ``{name: tensor}`` shaped like ``model.named_parameters()``
    (and the mean loss at w when ``return_loss``).

    ``loss_fn(logits, y)`` must be a *mean* over the batch (e.g. ``F.cross_entropy``).
    ``per_example=True`` (1-SAM) vmaps the computation over examples; ``chunk_size`` bounds the
    memory of that vmap for big networks.
    """
    _check_family_args(variant, rho, chunk_size)
    require(len(x) == len(y), f"need x, y of equal length, got x={len(x)}, y={len(y)}")
    if not per_example or variant == "sgd":
        grads, loss = _batch_gradient_inplace(model, loss_fn, variant, rho, x, y)
    else:
        params = {k: p.detach() for k, p in model.named_parameters()}
        buffers = {k: b.detach() for k, b in model.named_buffers()}

        def one(xi: torch.Tensor, yi: torch.Tensor) -> tuple[Params, torch.Tensor]:
            return _batch_gradient(model, loss_fn, variant, rho, params, buffers, xi[None], yi[None])

        per_ex, losses = vmap(one, chunk_size=chunk_size)(x, y)
        grads, loss = {k: g.mean(0) for k, g in per_ex.items()}, losses.mean()
    return (grads, loss) if return_loss else grads


def set_gradients(model: nn.Module, grads: Params) -> None:
    """Write ``grads`` into ``p.grad`` so any torch optimizer can take the step."""
    for name, p in model.named_parameters():
        try:
            p.grad = grads[name].detach()
        except KeyError:
            missing = [n for n, _ in model.named_parameters() if n not in grads]
            raise ValueError(f"grads lacks the model's parameters {missing}; it has {sorted(grads)}") from None


def make_family_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: LossFn, *,
                     variant: str, rho: float, per_example: bool = True,
                     chunk_size: int | None = None) -> Callable[[torch.Tensor, torch.Tensor], float]:
    """A ``step(xb, yb) -> loss`` for ``robustbook.train.fit``: the variant's gradient, then
    ``optimizer.step()`` (so weight decay, momentum and schedulers stay the base optimizer's)."""
    _check_family_args(variant, rho, chunk_size)

    def step(xb: torch.Tensor, yb: torch.Tensor) -> float:
        grads, loss = family_gradient(model, loss_fn, xb, yb, variant=variant, rho=rho,
                                      per_example=per_example, chunk_size=chunk_size, return_loss=True)
        set_gradients(model, grads)
        optimizer.step()
        return float(loss)

    return step


def linear_sam_weights(logits: torch.Tensor, signs: torch.Tensor, x_norms: torch.Tensor,
                       rho: float) -> torch.Tensor:
    """Per-example gradient weights of 1-SAM on a linear model f = <w, x> with logistic loss
    (Baek et al., 2024, Sec. 3): sigma(-t_i <w, x_i> + rho ||x_i||), t_i = ``signs`` in {-1, +1}.

    The 1-SAM gradient is -mean_i weight_i * t_i * x_i; rho=0 gives SGD's weights sigma(-t_i f_i).
    Shapes: all (N,)."""
    _check_rho(rho)
    require(logits.ndim == 1 and logits.shape == signs.shape == x_norms.shape,
            f"logits, signs and x_norms must all be (N,), got {tuple(logits.shape)}, "
            f"{tuple(signs.shape)}, {tuple(x_norms.shape)}")
    return torch.sigmoid(-signs * logits + rho * x_norms)
