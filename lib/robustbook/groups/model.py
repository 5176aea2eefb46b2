"""The multitask model of Kulkarni et al. (2024, Sec. 3), K copies trained at once.

One shared trunk (two ReLU layers; its output ``h`` is the "last-layer hidden state"), a
classifier head for the end task and a linear decoder for the auxiliary masked-reconstruction task.
Every weight is stored with a leading model axis K and applied with batched matrix products, so the
K models (seeds x methods x hyperparameters) never interact: the total loss is a sum of per-model
losses, and an element-wise optimizer (Adam) updates each model exactly as if it were alone.

Loss (the paper's Eq. 1 with the official code's l1 term):
    L = CE(end task) + w_mt * L_aux + w_reg * (mean |h_end| + mean |h_aux|)
with L_aux the mean squared error on the *masked* inputs of an independent batch from the same
training set. ``w_mt = 0`` drops the auxiliary batch (its l1 term too): ERM (+ l1)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from robustbook._checks import check_int, require


def _uniform(gen: torch.Generator, fan_in: int, *shape: int) -> torch.Tensor:
    """nn.Linear's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    return (torch.rand(*shape, generator=gen) * 2 - 1) / fan_in ** 0.5


class StackedMTL(nn.Module):
    """K independent trunk + head + decoder models; ``init_seeds[k]`` seeds model k's weights
    (equal seeds give equal initial weights, so methods of one seed start from the same point)."""

    def __init__(self, dim: int, width: int, n_classes: int, init_seeds: Sequence[int]) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("width", width), ("n_classes", n_classes)):
            check_int(name, value)
        require(len(init_seeds) > 0, "init_seeds must seed at least one model, got none")
        shapes = {"w1": (dim, width), "b1": (width,), "w2": (width, width), "b2": (width,),
                  "wc": (width, n_classes), "bc": (n_classes,), "wd": (width, dim), "bd": (dim,)}
        fan_in = {"w1": dim, "b1": dim, "w2": width, "b2": width, "wc": width, "bc": width,
                  "wd": width, "bd": width}
        stacked = {name: [] for name in shapes}
        for seed in init_seeds:
            gen = torch.Generator().manual_seed(int(seed))
            for name, shape in shapes.items():
                stacked[name].append(_uniform(gen, fan_in[name], *shape))
        for name, values in stacked.items():
            self.register_parameter(name, nn.Parameter(torch.stack(values)))

    @property
    def n_models(self) -> int:
        return self.w1.shape[0]

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Shared trunk: x (K, B, D) -> last-layer hidden states h (K, B, width)."""
        h = torch.relu(torch.baddbmm(self.b1[:, None], x, self.w1))
        return torch.relu(torch.baddbmm(self.b2[:, None], h, self.w2))

    def classify(self, h: torch.Tensor) -> torch.Tensor:
        """End-task head: h (K, B, width) -> logits (K, B, C)."""
        return torch.baddbmm(self.bc[:, None], h, self.wc)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """Auxiliary decoder: h (K, B, width) -> reconstructed inputs (K, B, D)."""
        return torch.baddbmm(self.bd[:, None], h, self.wd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.hidden(x))


def masked_reconstruction_loss(model: StackedMTL, x: torch.Tensor, mask: torch.Tensor
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked-input modelling: zero the masked entries of x (K, B, D), reconstruct, mean squared
    error over the masked entries only. Returns (loss (K,), hidden states (K, B, width))."""
    h = model.hidden(x.masked_fill(mask, 0.0))
    err = (model.decode(h) - x).pow(2) * mask
    return err.sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp(min=1), h


def mtl_loss(model: StackedMTL, x: torch.Tensor, y: torch.Tensor, x_aux: torch.Tensor,
             mask: torch.Tensor, w_mt: torch.Tensor, w_reg: torch.Tensor) -> torch.Tensor:
    """Per-model loss (K,) = CE + w_mt * L_aux + w_reg * (mean|h_end| + [w_mt > 0] mean|h_aux|).

    x (K, B, D), y (K, B) end-task batch; x_aux (K, B', D) independent batch with ``mask``
    (K, B', D) bool; w_mt, w_reg (K,) per-model weights."""
    h = model.hidden(x)
    logits = model.classify(h)
    ce = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
    ce = ce.view(y.shape).mean(dim=1)
    l1 = h.abs().mean(dim=(1, 2))
    multitask = w_mt > 0
    if bool(multitask.any()):
        aux, h_aux = masked_reconstruction_loss(model, x_aux, mask)
        l1 = l1 + multitask.float() * h_aux.abs().mean(dim=(1, 2))
        return ce + w_mt * torch.where(multitask, aux, torch.zeros_like(aux)) + w_reg * l1
    return ce + w_reg * l1
