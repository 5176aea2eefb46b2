"""A tiny convolutional network for small images (8x8 digits up to 96x96 patches), with the
``features`` / ``head`` split that contrastive pretraining and linear probes need."""

from __future__ import annotations

import torch
from torch import nn

from robustbook._checks import check_int


class TinyCNN(nn.Module):
    """x (B, C, H, W) -> three 3x3 conv + ReLU blocks (stride 1, 2, 2) -> global average pool
    -> features (B, width * 2) -> logits (B, n_classes)."""

    def __init__(self, in_channels: int = 3, n_classes: int = 10, width: int = 32) -> None:
        super().__init__()
        check_int("in_channels", in_channels)
        check_int("n_classes", n_classes)
        check_int("width", width)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, 2, 1), nn.ReLU())
        self.feature_dim = 2 * width
        self.head = nn.Linear(self.feature_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
