"""Test-time adaptation that acts on BatchNorm: BN_Adapt, TENT and ETA.

* **BN_Adapt** (Schneider et al., 2020): every BatchNorm layer normalises with the mean and variance
  of the current test batch instead of the running statistics from training.
* **TENT** (Wang et al., 2021, Eq. 1-2): BN_Adapt plus, for every test batch, one gradient step on
  the mean softmax entropy H(p) = -sum_c p_c log p_c of the batch's predictions, updating only the
  BatchNorm affine parameters (gamma, beta); everything else is frozen. The ``configure_model`` /
  ``collect_params`` / ``check_model`` split follows the description of the reference code.
* **ETA** (Niu et al., 2022, EATA without the Fisher term): TENT on a filtered, re-weighted batch —
  only samples with entropy H < E0 (E0 = 0.4 ln C), dropping samples whose prediction is redundant
  with the moving average of past predictions (|cos| >= d_margin), each weighted by 1 / exp(H - E0).

Logits may carry extra model dimensions after the batch one: (B, C) for one model, (B, K, C) for K
independent models batched in one module (``robustbook.tta.zoo``); losses are a mean over the batch
and a *sum* over models, so every model gets the gradient it would get alone.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

ETA_ENTROPY_FRACTION = 0.4   # E0 = 0.4 ln C (Niu et al., 2022)
ETA_D_MARGIN = 0.05          # redundancy filter: drop samples with |cos(p, moving average)| >= this
ETA_EMA = 0.9                # moving average of kept predictions: 0.9 old + 0.1 new batch mean


def bn_layers(model: nn.Module) -> list[_BatchNorm]:
    return [m for m in model.modules() if isinstance(m, _BatchNorm)]


def use_batch_statistics(model: nn.Module) -> nn.Module:
    """BN_Adapt, in place: every BatchNorm layer normalises with the current batch's statistics
    (training mode, running statistics dropped); every other module in eval mode. Returns model."""
    layers = bn_layers(model)
    if not layers:
        raise ValueError("test-time adaptation needs a model with BatchNorm layers; found none")
    model.eval()
    for m in layers:
        m.train()
        m.track_running_stats = False
        m.running_mean = None
        m.running_var = None
    return model


def bn_adapt(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with BN_Adapt (the original keeps its running statistics)."""
    return use_batch_statistics(copy.deepcopy(model))


def softmax_entropy(logits: torch.Tensor) -> torch.Tensor:
    """H(softmax(logits)) over the last (class) dimension: (..., C) -> (...)."""
    logp = logits.log_softmax(-1)
    return -(logp.exp() * logp).sum(-1)


def entropy_loss(logits: torch.Tensor) -> torch.Tensor:
    """TENT's objective: entropy averaged over the batch (dim 0), summed over model dims."""
    return softmax_entropy(logits).mean(0).sum()


def configure_model(model: nn.Module) -> nn.Module:
    """TENT's set-up, in place: batch statistics in every BN layer, every parameter frozen except
    the BN affine weights and biases."""
    use_batch_statistics(model)
    model.requires_grad_(False)
    for m in bn_layers(model):
        if m.weight is None or m.bias is None:
            raise ValueError("TENT updates BatchNorm affine parameters; a BN layer has affine=False")
        m.weight.requires_grad_(True)
        m.bias.requires_grad_(True)
    return model


def collect_params(model: nn.Module) -> tuple[list[nn.Parameter], list[str]]:
    """The BN affine parameters (what TENT updates) and their names."""
    params, names = [], []
    for module_name, m in model.named_modules():
        if isinstance(m, _BatchNorm):
            for p_name, p in m.named_parameters(recurse=False):
                params.append(p)
                names.append(f"{module_name}.{p_name}")
    return params, names


def check_model(model: nn.Module) -> None:
    """Assert that ``model`` is configured for TENT: BN layers present and using batch statistics,
    and the trainable parameters are exactly the BN affine ones."""
    layers = bn_layers(model)
    assert layers, "TENT needs BatchNorm layers"
    assert all(m.training and m.running_mean is None for m in layers), \
        "every BN layer must normalise with batch statistics (configure_model)"
    bn_ids = {id(p) for p in collect_params(model)[0]}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable, "TENT needs trainable BN affine parameters"
    extra = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in bn_ids]
    assert not extra, f"only BN affine parameters may be trainable; also trainable: {extra}"


class Tent(nn.Module):
    """Wrap a configured model: each ``forward(x)`` returns the logits of the batch and then takes
    ``steps`` Adam/SGD steps on their entropy (``episodic``: reset before every batch)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, steps: int = 1,
                 episodic: bool = False):
        super().__init__()
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        check_model(model)
        self.model, self.optimizer, self.steps, self.episodic = model, optimizer, steps, episodic
        self._model_state = copy.deepcopy(model.state_dict())
        self._optimizer_state = copy.deepcopy(optimizer.state_dict())

    def loss(self, logits: torch.Tensor) -> torch.Tensor:
        return entropy_loss(logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.episodic:
            self.reset()
        for _ in range(self.steps):
            logits = self.model(x)
            self.optimizer.zero_grad()
            self.loss(logits).backward()
            self.optimizer.step()
        return logits.detach()

    def reset(self) -> None:
        """Restore the weights and the optimizer state saved at construction."""
        self.model.load_state_dict(self._model_state, strict=True)
        self.optimizer.load_state_dict(self._optimizer_state)


def eta_filter(logits: torch.Tensor, e_margin: float, d_margin: float = ETA_D_MARGIN,
               moving_probs: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """ETA's sample weights (Niu et al., 2022, Eq. 4-6). logits (B, ..., C); moving_probs (..., C)
    or None (no redundancy filter yet). Returns weights (B, ...) — 1 / exp(H - E0) on kept samples,
    0 elsewhere — and the boolean keep mask (B, ...)."""
    with torch.no_grad():
        ent = softmax_entropy(logits)
        keep = ent < e_margin
        if moving_probs is not None:
            cos = torch.nn.functional.cosine_similarity(logits.softmax(-1), moving_probs.unsqueeze(0), dim=-1)
            keep &= cos.abs() < d_margin
        weights = torch.where(keep, torch.exp(-(ent - e_margin)), torch.zeros_like(ent))
    return weights, keep


def update_moving_probs(moving: torch.Tensor | None, logits: torch.Tensor, keep: torch.Tensor,
                        ema: float = ETA_EMA) -> torch.Tensor | None:
    """Moving average (..., C) of the kept samples' mean prediction, per model."""
    with torch.no_grad():
        probs = logits.softmax(-1) * keep.unsqueeze(-1)
        count = keep.sum(0).unsqueeze(-1)
        if bool((count == 0).all()):
            return moving
        batch_mean = probs.sum(0) / count.clamp(min=1)
        if moving is None:
            return batch_mean
        return torch.where(count > 0, ema * moving + (1 - ema) * batch_mean, moving)


class Eta(Tent):
    """TENT with ETA's reliable, non-redundant, re-weighted samples (no Fisher regulariser)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, n_classes: int,
                 steps: int = 1, e_fraction: float = ETA_ENTROPY_FRACTION, d_margin: float = ETA_D_MARGIN):
        super().__init__(model, optimizer, steps)
        self.e_margin, self.d_margin = e_fraction * math.log(n_classes), d_margin
        self.moving_probs: torch.Tensor | None = None

    def loss(self, logits: torch.Tensor) -> torch.Tensor:
        weights, keep = eta_filter(logits, self.e_margin, self.d_margin, self.moving_probs)
        self.moving_probs = update_moving_probs(self.moving_probs, logits, keep)
        per_model = (softmax_entropy(logits) * weights).sum(0) / keep.sum(0).clamp(min=1)
        return per_model.sum()

    def reset(self) -> None:
        super().reset()
        self.moving_probs = None
