"""The paper's setting: CIFAR-10 test images (ID), CIFAR-10-C (OOD) and trained CIFAR-10
classifiers of any torchvision architecture, read from a local folder (nothing is downloaded).

Layout under ``data_dir``::

    cifar-10-batches-py/test_batch         CIFAR-10's python-pickle test batch
    CIFAR-10-C/<corruption>.npy, labels.npy  see robustbook.data.cifar_shifts
    tta-lines-models/<architecture>.pt      a state dict of torchvision.models.get_model(
                                            <architecture>, num_classes=10), trained on CIFAR-10

:class:`SingleModel` gives any classifier the zoo's interface (``features`` / ``head`` with a model
dimension of size 1), so ``robustbook.tta.adapt`` and ``predict`` run on it unchanged.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn

from robustbook.data import safe_pickle
from robustbook.data.cifar import CIFAR10_FOLDER, TEST_FILE, normalize
from robustbook.data.cifar_shifts import check_files, load_cifar10_c, required_files

MODELS_FOLDER = "tta-lines-models"
MODELS_HINT = (f"{MODELS_FOLDER}/<architecture>.pt: the state dict of torchvision.models.get_model("
               f"<architecture>, num_classes=10) after training on CIFAR-10 (e.g. with robustbook.train)")


def paper_files(corruptions: tuple[str, ...]) -> list[Path]:
    """The data files a paper run reads (relative to data_dir)."""
    data = required_files(cifar10=False, cifar10_1=False, corruptions=corruptions)
    return [Path(CIFAR10_FOLDER) / TEST_FILE, *data]


def check_paper_inputs(data_dir: str | Path | None, corruptions: tuple[str, ...],
                       models: tuple[str, ...]) -> None:
    """Raise FileNotFoundError naming every missing data file and model, and where each goes."""
    check_files(data_dir, paper_files(corruptions))
    if len(models) < 3:
        raise ValueError(f"the paper preset needs at least 3 models (ALine-D), got {list(models)}")
    missing = [f"{MODELS_FOLDER}/{m}.pt" for m in models if not (Path(data_dir) / MODELS_FOLDER / f"{m}.pt").is_file()]
    if missing:
        raise FileNotFoundError(f"missing in data_dir={data_dir}: {', '.join(missing)}. Each is {MODELS_HINT}")


def load_cifar10_test(data_dir: str | Path, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10's test batch: (x float32 (n, 3, 32, 32) standardised, y int64 (n,))."""
    batch = safe_pickle.load(Path(data_dir) / CIFAR10_FOLDER / TEST_FILE)
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)[:n]
    labels = np.asarray(batch[b"labels"], dtype=np.int64)[:n]
    return normalize(torch.from_numpy(images)), torch.from_numpy(labels)


def load_shift(data_dir: str | Path, corruption: str, severity: int, n: int | None = None) -> torch.Tensor:
    """One CIFAR-10-C shift, standardised like the test set: (n, 3, 32, 32). Its rows are CIFAR-10's
    test images in order, so the test labels apply."""
    x, _ = load_cifar10_c(data_dir, corruption, severity)
    return normalize(x[:n])


def _last_linear(model: nn.Module) -> str:
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError("the classifier has no nn.Linear layer to use as its head")
    return names[-1]


class SingleModel(nn.Module):
    """A classifier split at its last linear layer: ``features(x)`` (B, 1, D), ``head(f)`` (B, 1, C)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        name = _last_linear(model)
        self.backbone = copy.deepcopy(model)
        parent = self.backbone.get_submodule(name.rpartition(".")[0]) if "." in name else self.backbone
        self.head_layer = getattr(parent, name.rpartition(".")[2])
        setattr(parent, name.rpartition(".")[2], nn.Identity())

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x).flatten(1).unsqueeze(1)

    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.head_layer(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def load_model(data_dir: str | Path, name: str, n_classes: int = 10) -> SingleModel:
    """torchvision architecture ``name`` with the trained weights from ``tta-lines-models/``."""
    from torchvision.models import get_model

    model = get_model(name, weights=None, num_classes=n_classes)
    state = torch.load(Path(data_dir) / MODELS_FOLDER / f"{name}.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return SingleModel(model.eval()).eval()
