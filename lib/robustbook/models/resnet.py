"""ResNet-18 for 32x32 images with GroupNorm instead of BatchNorm.

GroupNorm keeps each example's forward pass independent of the rest of the batch, which per-example
(1-SAM) gradients need, and avoids BatchNorm's running statistics being updated twice per SAM step.
"""

from __future__ import annotations

import torch
from torch import nn

from robustbook._checks import check_int, require


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, channels // 4), channels)


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.norm1 = _norm(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.norm2 = _norm(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), _norm(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.norm1(self.conv1(x)))
        return torch.relu(self.norm2(self.conv2(out)) + self.shortcut(x))


class ResNet18GN(nn.Module):
    """x (B, 3, 32, 32) -> logits (B, n_classes); ``width`` 64 is the standard ResNet-18."""

    def __init__(self, n_classes: int = 10, width: int = 64) -> None:
        super().__init__()
        check_int("n_classes", n_classes)
        check_int("width", width, minimum=4)
        # GroupNorm(min(32, c // 4), c) needs c divisible by its group count at every stage.
        require(all(c % min(32, c // 4) == 0 for c in (width, 2 * width, 4 * width, 8 * width)),
                f"width must give channel counts divisible by their GroupNorm groups (e.g. 8, 16, 32, "
                f"64 (standard), 128), got {width}")
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), _norm(width), nn.ReLU())
        blocks, c_in = [], width
        for i, mult in enumerate((1, 2, 4, 8)):
            c_out = width * mult
            blocks += [BasicBlock(c_in, c_out, 1 if i == 0 else 2), BasicBlock(c_out, c_out, 1)]
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(c_in, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def resnet18_gn(n_classes: int = 10, width: int = 64) -> ResNet18GN:
    """ResNet-18 (GroupNorm); ``width`` < 64 gives a narrower copy for quick tests."""
    return ResNet18GN(n_classes, width)
