"""Frozen OpenCLIP image encoders as feature extractors for linear probes (no downloads here:
``pretrained`` is an open_clip tag already in open_clip's cache, or a path to a weights file).

Images are preprocessed as tensors on the device (resize to the model's input size with bicubic
antialiasing, then the model's mean/std normalisation), which matches open_clip's PIL transform
for square images up to interpolation rounding, and runs batched on a GPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from robustbook._checks import check_int, require

TINY_CONFIG = "robustbook-tiny-vit"  # a 32x32, one-layer ViT for tests (random weights)


def register_tiny_config(name: str = TINY_CONFIG, embed_dim: int = 16) -> str:
    """Register a tiny open_clip model config (builds in milliseconds; for tests and smoke runs)
    and return its name. The default is the packaged ``robustbook-tiny-vit`` config
    (``robustbook/clip/model_configs``); other names or widths are registered the same public way
    by ``robustbook.clip.register``."""
    from robustbook.clip import TINY_CLIP_CONFIGS, register

    config = TINY_CLIP_CONFIGS[TINY_CONFIG]
    if name == TINY_CONFIG and embed_dim == config["embed_dim"]:
        register(name)
    else:
        register(name, {**config, "embed_dim": embed_dim})
    return name


def load_open_clip(name: str, pretrained: str | None, device: torch.device | str = "cpu") -> nn.Module:
    """``open_clip.create_model_and_transforms(name, pretrained=...)`` in eval mode on ``device``.
    ``pretrained=None`` gives random weights (tests only)."""
    import open_clip

    model, _, _ = open_clip.create_model_and_transforms(name, pretrained=pretrained, device=device)
    return model.eval()


def _preprocess_cfg(model: nn.Module) -> dict:
    cfg = getattr(model.visual, "preprocess_cfg", None) or {}
    size = cfg.get("size", model.visual.image_size)
    size = (size, size) if isinstance(size, int) else tuple(size)
    return {"size": size, "mean": cfg.get("mean", (0.48145466, 0.4578275, 0.40821073)),
            "std": cfg.get("std", (0.26862954, 0.26130258, 0.27577711))}


def preprocess(images: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> float (B, 3, S, S) resized and normalised for ``model``."""
    require(images.ndim == 4 and images.shape[1] == 3,
            f"images must be (B, 3, H, W), got shape {tuple(images.shape)}")
    cfg = _preprocess_cfg(model)
    x = images.float() / 255.0
    if tuple(x.shape[-2:]) != cfg["size"]:
        x = F.interpolate(x, size=cfg["size"], mode="bicubic", align_corners=False,
                          antialias=True).clamp(0, 1)
    mean = torch.tensor(cfg["mean"], device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"], device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def encode_images(model: nn.Module, images: torch.Tensor, *, batch_size: int = 256,
                  normalize: bool = True) -> torch.Tensor:
    """Image embeddings of uint8 images (N, 3, H, W) -> float32 (N, D) on the CPU; L2-normalised
    when ``normalize`` (as in CLIP's zero-shot and linear-probe use)."""
    check_int("batch_size", batch_size)
    require(images.ndim == 4 and images.shape[1] == 3,
            f"images must be uint8 (N, 3, H, W), got shape {tuple(images.shape)}")
    device = next(model.parameters()).device
    out = []
    for chunk in images.split(batch_size):
        z = model.encode_image(preprocess(chunk.to(device), model)).float()
        out.append((F.normalize(z, dim=-1) if normalize else z).cpu())
    return torch.cat(out) if out else torch.zeros(0, 0)
