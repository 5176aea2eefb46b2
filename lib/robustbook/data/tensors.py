"""A train/test split held as tensors in memory (small datasets need no DataLoader)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TensorSplit:
    """``x_train`` (N, ...), ``y_train`` (N,) as trained on (possibly noisy); ``y_train_clean`` the
    true labels; ``x_test``/``y_test`` clean held-out data."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    y_train_clean: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def noisy_mask(self) -> torch.Tensor:
        """(N,) bool: which training labels were corrupted."""
        return self.y_train != self.y_train_clean

    def to(self, device: torch.device | str) -> TensorSplit:
        return TensorSplit(*(t.to(device) for t in (self.x_train, self.y_train,
                                                     self.y_train_clean, self.x_test, self.y_test)))

    def with_train_labels(self, y_train: torch.Tensor) -> TensorSplit:
        return TensorSplit(self.x_train, y_train, self.y_train_clean, self.x_test, self.y_test)
