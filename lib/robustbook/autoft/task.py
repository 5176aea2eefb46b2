"""A fine-tuning task with AutoFT's four kinds of data, its starting model, and its evaluation.

``Task``: ID training data, an ID validation set, a *small* OOD validation set from one shift
(the only OOD data the search sees), an ID test set and held-out OOD test shifts. The starting
model θ₀ is a pretrained body with a linear-probe head (``linear_probe_head``); fine-tuning,
WiSE-FT and every search start from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from robustbook.autoft.finetune import predict, score


@dataclass(frozen=True)
class Task:
    """Inputs x (N, ...) and labels y (N,) of every split; ``ood_test``: {shift: (x, y)}."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_id_val: torch.Tensor
    y_id_val: torch.Tensor
    x_ood_val: torch.Tensor
    y_ood_val: torch.Tensor
    x_id_test: torch.Tensor
    y_id_test: torch.Tensor
    ood_test: dict[str, tuple[torch.Tensor, torch.Tensor]]
    n_classes: int
    ood_val_shift: str = ""


def evaluate(model: nn.Module, task: Task, metric: str = "accuracy") -> dict[str, float]:
    """Scores of ``model`` on id_val, ood_val, id_test, every OOD test shift (``test:<name>``) and
    ``ood_test`` = their mean (equal weight per shift)."""
    out = {"id_val": score(predict(model, task.x_id_val), task.y_id_val, metric),
           "ood_val": score(predict(model, task.x_ood_val), task.y_ood_val, metric),
           "id_test": score(predict(model, task.x_id_test), task.y_id_test, metric)}
    shifts = {f"test:{k}": score(predict(model, x), y, metric) for k, (x, y) in task.ood_test.items()}
    return {**out, "ood_test": float(np.mean(list(shifts.values()))), **shifts}


def linear_probe_head(features: torch.Tensor, y: torch.Tensor, n_classes: int, *, steps: int = 300,
                      lr: float = 0.05, weight_decay: float = 1e-3, seed: int = 0) -> nn.Linear:
    """A linear head (D -> n_classes) fitted by full-batch Adam on frozen features (N, D): the
    linear-probe starting point θ₀'s head (LP-FT, Kumar et al., 2022)."""
    head = nn.Linear(features.shape[1], n_classes).to(features.device)
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        head.weight.copy_(0.01 * torch.randn(head.weight.shape, generator=g).to(features.device))
        head.bias.zero_()
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(head(features), y).backward()
        opt.step()
    return head.requires_grad_(True)


class BodyHead(nn.Module):
    """logits = head(body(x)): ``body`` a pretrained feature map, ``head`` a linear layer."""

    def __init__(self, body: nn.Module, head: nn.Linear) -> None:
        super().__init__()
        self.body, self.head = body, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def state_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of ``model``'s state dict."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def model_at(make: Callable[[], nn.Module], state: dict[str, torch.Tensor]) -> nn.Module:
    """A fresh model from ``make()`` loaded with ``state`` (eval mode)."""
    model = make()
    model.load_state_dict(state)
    return model.eval()
