"""Preset paper: the AutoFT task on WILDS iWildCam with an OpenCLIP image encoder.

θ₀ = the encoder (``model.visual``, every weight fine-tuned) with a linear-probe head fitted on
its frozen training-set embeddings. The OOD validation set is a class-balanced draw of
``n_ood_val`` images of the OOD ``val`` split (1,000 in the paper); the OOD test set is the
``test`` split; scores are macro-F1 (WILDS' iWildCam metric).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from robustbook.autoft.task import BodyHead, Task, linear_probe_head, model_at, state_of
from robustbook.data.iwildcam import load_split
from robustbook.models.clip_features import _preprocess_cfg, preprocess


@torch.no_grad()
def _embed(body: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    return torch.cat([body(chunk).float() for chunk in x.split(batch_size)])


def iwildcam_task(clip_model: nn.Module, data_dir: str, *, n_ood_val: int, max_per_split: int | None,
                  seed: int, device: torch.device) -> tuple[Task, Callable[[], nn.Module]]:
    """The iWildCam task as preprocessed image tensors on ``device`` and a factory of θ₀."""
    size = _preprocess_cfg(clip_model)["size"][0]

    def split(name: str, n: int | None = max_per_split, balanced: bool = False):
        x, y = load_split(data_dir, name, size=size, max_n=n, balanced=balanced, seed=seed)
        return preprocess(x.to(device), clip_model), y.to(device)

    (x_tr, y_tr), (x_iv, y_iv), (x_it, y_it) = split("train"), split("id_val"), split("id_test")
    x_ov, y_ov = split("val", n_ood_val, balanced=True)
    x_te, y_te = split("test")
    n_classes = int(max(y.max() for y in (y_tr, y_iv, y_it, y_ov, y_te))) + 1
    task = Task(x_tr, y_tr, x_iv, y_iv, x_ov, y_ov, x_it, y_it, {"iwildcam-test": (x_te, y_te)},
                n_classes, "iwildcam-val")
    body = copy.deepcopy(clip_model.visual).float()
    head = linear_probe_head(_embed(body, x_tr), y_tr, n_classes, seed=seed).to(device)
    theta0 = state_of(BodyHead(body, head))
    return task, partial(model_at, partial(_fresh, body, head), theta0)


def _fresh(body: nn.Module, head: nn.Linear) -> nn.Module:
    return BodyHead(copy.deepcopy(body), copy.deepcopy(head)).requires_grad_(True)
