"""Sharpness-Aware Minimization as a wrapper around any torch optimizer.

Foret et al. (2021), "Sharpness-Aware Minimization for Efficiently Improving Generalization":
    eps = rho * g / ||g||            (g = gradient of the mini-batch loss at w)
    w  <- base_step(w, grad L(w + eps))
The API follows the shape readers know from davda54/sam: ``SAM(params, base_optimizer, rho,
adaptive, **base_kwargs)`` with ``first_step`` / ``second_step`` / ``step(closure)``.

Things users trip on, handled here and tested in tests/lib/test_sam.py:
- ``rho=0`` gives exactly the base optimizer's update;
- learning-rate schedulers may wrap either ``sam`` or ``sam.base_optimizer`` (they share groups);
- BatchNorm running statistics must not be updated by the second forward pass: wrap it in
  ``frozen_bn_stats(model)``;
- mixed precision: unscale gradients (``GradScaler.unscale_``) before ``first_step``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch
from torch import nn


def _check_rho(rho: float) -> None:
    """rho = 0 is allowed on purpose: it is exactly the base optimizer (tested)."""
    ok = not isinstance(rho, bool)
    try:
        ok = ok and math.isfinite(rho) and rho >= 0
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"rho must be a finite number >= 0 (0 gives the base optimizer), got {rho!r}")


class SAM(torch.optim.Optimizer):
    """SAM around ``base_optimizer`` (a class, e.g. ``torch.optim.SGD``).

    ``adaptive=True`` is ASAM (Kwon et al., 2021): the perturbation is scaled elementwise by
    ``|w|``, eps = rho * w^2 g / ||w g||. ``rho=0`` reduces to the base optimizer.
    """

    def __init__(self, params, base_optimizer: type[torch.optim.Optimizer], rho: float = 0.05,
                 adaptive: bool = False, **base_kwargs) -> None:
        _check_rho(rho)
        if isinstance(base_optimizer, torch.optim.Optimizer):
            raise TypeError(f"base_optimizer must be an optimizer class such as torch.optim.SGD, not an "
                            f"instance ({type(base_optimizer).__name__}); its settings go in **base_kwargs")
        if not callable(base_optimizer):
            raise TypeError(f"base_optimizer must be an optimizer class such as torch.optim.SGD, "
                            f"got {base_optimizer!r}")
        super().__init__(params, dict(rho=rho, adaptive=adaptive, **base_kwargs))
        self.base_optimizer = base_optimizer(self.param_groups, **base_kwargs)
        # One list of groups and one state for both objects: a scheduler on either changes the lr
        # of both, and state_dict() carries the base optimizer's buffers (momentum, Adam moments).
        self.param_groups = self.base_optimizer.param_groups
        self.state = self.base_optimizer.state
        self.defaults.update(self.base_optimizer.defaults)

    def _scaled_grad(self, p: torch.Tensor, adaptive: bool) -> torch.Tensor:
        return p.grad * p.abs() if adaptive else p.grad

    def _grad_norm(self) -> torch.Tensor:
        """Global L2 norm of the (adaptively scaled) gradient over all groups."""
        norms = [self._scaled_grad(p, g["adaptive"]).norm(2)
                 for g in self.param_groups for p in g["params"] if p.grad is not None]
        if not norms:
            raise RuntimeError("SAM.first_step found no gradients: call backward() first")
        return torch.linalg.vector_norm(torch.stack(norms))

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """Move to the adversarial point w + eps, remembering w."""
        norm = self._grad_norm()
        for group in self.param_groups:
            scale = group["rho"] / (norm + 1e-12)
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.state[p]["w"] = p.detach().clone()
                eps = self._scaled_grad(p, group["adaptive"]) * scale
                if group["adaptive"]:
                    eps = eps * p.abs()
                p.add_(eps)
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Return to w and take the base optimizer's step with the gradient taken at w + eps."""
        for group in self.param_groups:
            for p in group["params"]:
                if "w" in self.state[p]:
                    p.copy_(self.state[p].pop("w"))
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad()

    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor:
        """One SAM step. The gradient at w must already be in ``.grad``; ``closure`` runs
        forward + backward once more (at w + eps) and returns the loss."""
        if closure is None:
            raise ValueError("SAM.step needs a closure that recomputes the loss and its gradient")
        self.first_step(zero_grad=True)
        with torch.enable_grad():
            loss = closure()
        self.second_step()
        return loss

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.base_optimizer.param_groups = self.param_groups
        self.base_optimizer.state = self.state


@contextlib.contextmanager
def frozen_bn_stats(model: nn.Module) -> Iterator[None]:
    """Keep BatchNorm running statistics fixed inside the block (for SAM's second forward)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    saved = {}
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            saved[m] = m.momentum
            m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in saved.items():
            m.momentum = momentum
