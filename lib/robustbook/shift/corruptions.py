"""Common corruptions (Hendrycks & Dietterich, 2019) applied with the ``imagecorruptions`` package
(maintained fork ``imagecorruptions-imaug``), for images of any size >= 32 x 32.

The package works on one uint8 H x W x 3 image at a time. Most corruptions draw their randomness
from numpy's global generator, which :func:`corrupt_images` seeds; two (impulse_noise, glass_blur)
use a fresh unseeded generator unless given ``seed=``, so they get a per-image seed drawn from the
seeded stream. Either way a call is reproducible.
Small images (8 x 8 digits) are first enlarged with :func:`upscale`: the package's kernels assume
at least 32 x 32 pixels.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
import torch.nn.functional as F

MIN_SIZE = 32
SEVERITIES = (1, 2, 3, 4, 5)


def corruption_names() -> list[str]:
    """All 19 corruption names of the package (15 of ImageNet-C/CIFAR-10-C plus 4 extra)."""
    from imagecorruptions import get_corruption_names

    return list(get_corruption_names("all"))


def upscale(images: np.ndarray, size: int = MIN_SIZE) -> np.ndarray:
    """Bilinear resize of grayscale images (N, h, w) with values in [0, 1] to uint8 (N, size, size)."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32)).unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x.squeeze(1).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _check(images: np.ndarray, name: str, severity: int) -> None:
    if name not in corruption_names():
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(corruption_names())}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity}")
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"images must be uint8 (N, H, W) or (N, H, W, 3), got {images.dtype} "
                         f"{images.shape}")
    if min(images.shape[1:3]) < MIN_SIZE:
        raise ValueError(f"imagecorruptions needs images of at least {MIN_SIZE}x{MIN_SIZE} pixels, "
                         f"got {images.shape[1]}x{images.shape[2]}: upscale them first")


def _takes_seed(name: str) -> bool:
    from imagecorruptions import corruption_dict

    return "seed" in inspect.signature(corruption_dict[name]).parameters


def corrupt_images(images: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """Corrupt each image with ``name`` at ``severity`` (1..5); same shape and dtype out.

    ``images``: uint8 (N, H, W) grayscale or (N, H, W, 3) RGB, H, W >= 32. Grayscale images are
    replicated to 3 channels for the package and averaged back afterwards.
    """
    from imagecorruptions import corrupt

    images = np.asarray(images)
    _check(images, name, severity)
    gray = images.ndim == 3
    seeded = _takes_seed(name)
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        out = []
        for image in images:
            rgb = np.repeat(image[..., None], 3, axis=-1) if gray else image
            extra = {"seed": int(np.random.randint(0, 2**31 - 1))} if seeded else {}
            c = np.asarray(corrupt(rgb, corruption_name=name, severity=severity, **extra),
                           dtype=np.float64)
            c = c[: image.shape[0], : image.shape[1]]  # a few corruptions return a larger canvas
            out.append(c.mean(axis=-1) if gray else c)
    finally:
        np.random.set_state(state)
    return np.clip(np.rint(np.stack(out)), 0, 255).astype(np.uint8)
