"""Small networks that train in seconds on a CPU.

Every classifier here exposes ``features(x)`` (penultimate activations) and ``head`` (the last
linear layer), which the feature-norm and last-layer-weight penalties need.
"""

from __future__ import annotations

import torch
from torch import nn

from robustbook._checks import check_int


class MLP(nn.Module):
    """x (B, d_in) -> ReLU hidden layers of width ``width`` -> logits (B, n_classes)."""

    def __init__(self, d_in: int, width: int, n_classes: int, depth: int = 1) -> None:
        super().__init__()
        for name, value in (("d_in", d_in), ("width", width), ("n_classes", n_classes), ("depth", depth)):
            check_int(name, value)
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(d_in if i == 0 else width, width), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class LinearClassifier(nn.Module):
    """f(x) = <w, x> without bias: x (B, d_in) -> scalar logit (B,) (binary logistic regression)."""

    def __init__(self, d_in: int) -> None:
        super().__init__()
        check_int("d_in", d_in)
        self.head = nn.Linear(d_in, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x).squeeze(-1)


class TwoLayerLinear(nn.Module):
    """f(x) = v^T W x without biases: x (B, d_in) -> scalar logit (B,).

    The network for which J-SAM's implicit penalty has a closed form (Baek et al., 2024, Sec. 4.2).
    """

    def __init__(self, d_in: int, width: int) -> None:
        super().__init__()
        check_int("d_in", d_in)
        check_int("width", width)
        self.body = nn.Linear(d_in, width, bias=False)  # W: (width, d_in)
        self.head = nn.Linear(width, 1, bias=False)     # v: (1, width)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(-1)
