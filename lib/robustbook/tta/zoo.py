"""A zoo of small BatchNorm classifiers, trained batched: K models of one architecture live in one
module whose layers are *grouped* (K independent weight blocks), so one forward/backward trains all
K at once.

Why grouped modules and not ``robustbook.ensembles`` (``torch.func.vmap`` over stacked parameters):
BatchNorm keeps running statistics in buffers that training updates in place, which vmap cannot
carry. A BatchNorm over K x C channels normalises every channel on its own, so it *is* K
independent BatchNorms; a grouped convolution (``groups=K``) and a batched matmul are K independent
layers. Losses are summed over the K models (each model's gradient is the one it would get alone;
Adam is elementwise), so the K models never interact.

Shapes: images x (B, 1, H, W) in [0, 1]; ``features(x)`` (B, K, D) (the penultimate layer);
``forward(x)`` logits (B, K, C). Snapshots of one group at several epochs are stacked into a bigger
group with :func:`stack_states` (every parameter and buffer has the model index leading).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn


class GroupedLinear(nn.Module):
    """K independent ``nn.Linear(d_in, d_out)``: (B, K, d_in) -> (B, K, d_out); torch's default
    init per model (uniform in +-1/sqrt(d_in))."""

    def __init__(self, k: int, d_in: int, d_out: int):
        super().__init__()
        bound = 1 / math.sqrt(d_in)
        self.weight = nn.Parameter(torch.empty(k, d_in, d_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(k, d_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bki,kio->bko", x, self.weight) + self.bias


class GroupedBN1d(nn.BatchNorm1d):
    """K independent ``BatchNorm1d(width)`` on (B, K, width) (one BN over K * width channels)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, k, w = x.shape
        return super().forward(x.reshape(b, k * w)).reshape(b, k, w)


class GroupedMLP(nn.Module):
    """K MLPs: flatten -> ``depth`` x [Linear -> BatchNorm -> ReLU] -> Linear head."""

    def __init__(self, k: int, d_in: int, width: int, depth: int, n_classes: int):
        super().__init__()
        self.k = k
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [GroupedLinear(k, d_in if i == 0 else width, width), GroupedBN1d(k * width), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = GroupedLinear(k, width, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(len(x), 1, -1).expand(-1, self.k, -1)
        return self.body(flat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class GroupedCNN(nn.Module):
    """K small CNNs: ``depth`` x [3x3 conv -> BatchNorm -> ReLU -> 2x2 average pool] (channels
    ``width``, doubling each block) -> global average pool -> Linear head. The first conv maps the
    one input channel to K * width channels (each output channel is its own filter)."""

    def __init__(self, k: int, width: int, depth: int, n_classes: int, in_channels: int = 1):
        super().__init__()
        self.k = k
        layers: list[nn.Module] = []
        c_in, c_out = in_channels, width
        for i in range(depth):
            conv = (nn.Conv2d(c_in, k * c_out, 3, padding=1) if i == 0 else
                    nn.Conv2d(k * c_in, k * c_out, 3, padding=1, groups=k))
            layers += [conv, nn.BatchNorm2d(k * c_out), nn.ReLU(), nn.AvgPool2d(2)]
            c_in, c_out = c_out, 2 * c_out
        self.body = nn.Sequential(*layers)
        self.dim = c_in
        self.head = GroupedLinear(k, c_in, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x).mean(dim=(2, 3))                       # (B, K * D)
        return h.reshape(len(x), self.k, self.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass(frozen=True)
class Arch:
    """One architecture of the zoo: ``kind`` "mlp" or "cnn", ``width``, ``depth``."""

    kind: str
    width: int
    depth: int

    @property
    def name(self) -> str:
        return f"{self.kind}-w{self.width}-d{self.depth}"

    def build(self, k: int, image_size: int, n_classes: int) -> nn.Module:
        if self.kind == "mlp":
            return GroupedMLP(k, image_size * image_size, self.width, self.depth, n_classes)
        if self.kind == "cnn":
            return GroupedCNN(k, self.width, self.depth, n_classes)
        raise ValueError(f"unknown architecture kind {self.kind!r} (mlp or cnn)")


def _grouped_dim(name: str, tensor: torch.Tensor) -> bool:
    return tensor.ndim > 0 and not name.endswith("num_batches_tracked")


def stack_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One state dict for a group of sum(K_i) models from groups of K_i models of one architecture
    (every grouped tensor has the model index leading: concatenated along dim 0)."""
    out = {}
    for name, first in states[0].items():
        out[name] = (torch.cat([s[name] for s in states]) if _grouped_dim(name, first)
                     else first.clone())
    return out


def train_snapshots(model: nn.Module, x: torch.Tensor, y: torch.Tensor, snapshots: Sequence[int],
                    batch_size: int, lr: float, generator: torch.Generator,
                    progress: Callable[[], None] | None = None) -> list[dict[str, torch.Tensor]]:
    """Train all K models of ``model`` with Adam on cross-entropy (mean over the batch, sum over
    models), shuffled mini-batches from ``generator``; a copy of the state dict after each epoch in
    ``snapshots`` (sorted, >= 1). x (N, 1, H, W), y (N,)."""
    snapshots = sorted(snapshots)
    if not snapshots or snapshots[0] < 1:
        raise ValueError(f"snapshots must be epochs >= 1, got {list(snapshots)}")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    out = []
    model.train()
    for epoch in range(1, snapshots[-1] + 1):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            if len(idx) < 2:
                continue  # BatchNorm needs two samples
            logits = model(x[idx])                              # (B, K, C)
            loss = nn.functional.cross_entropy(logits.transpose(1, 2), y[idx].unsqueeze(1).expand(-1, logits.shape[1]),
                                               reduction="none").mean(0).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch in snapshots:
            out.append(copy.deepcopy(model.state_dict()))
        if progress is not None:
            progress()
    model.eval()
    return out

