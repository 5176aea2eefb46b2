"""Batched image augmentations on tensors (B, C, H, W), written for this book (no torchvision
transforms, no per-image Python loop): the weak and strong views of FixMatch and SimCLR.

- weak: random translation by up to ``shift`` pixels (zero padding), as FixMatch's flip-and-shift
  (no flip: digits are not mirror-symmetric).
- strong: the weak translation, then colour distortion (random channel permutation, per-channel
  gain, grey-scale with probability 0.2; SimCLR's colour jitter / FixMatch's RandAugment colour
  ops in spirit), random contrast, and a cutout square (FixMatch applies Cutout after RandAugment).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from robustbook._checks import check_int, check_number, require


def _check_images(x: torch.Tensor) -> None:
    require(x.ndim == 4, f"x must be images (B, C, H, W), got shape {tuple(x.shape)}")


def translate(x: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image moved by integer (dy, dx) in [-shift, shift]^2 with zero fill. x (B, C, H, W)."""
    check_int("shift", shift, minimum=0)
    _check_images(x)
    if shift == 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (shift, shift, shift, shift))
    dy = torch.randint(0, 2 * shift + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * shift + 1, (b,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None, :])                  # (B, H)
    cols = (dx[:, None] + torch.arange(w)[None, :])                  # (B, W)
    idx_b = torch.arange(b)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx_b, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


def colour_distort(x: torch.Tensor, generator: torch.Generator, p_grey: float = 0.2) -> torch.Tensor:
    """Random channel order, per-channel gain in [0.5, 1.5], grey with probability p_grey."""
    check_number("p_grey", p_grey, low=0, high=1)
    _check_images(x)
    b, c = x.shape[:2]
    if c == 1:
        return x
    perm = torch.argsort(torch.rand(b, c, generator=generator), dim=1)
    x = torch.gather(x, 1, perm[:, :, None, None].expand_as(x))
    x = x * (0.5 + torch.rand(b, c, 1, 1, generator=generator))
    grey = torch.rand(b, 1, 1, 1, generator=generator) < p_grey
    return torch.where(grey, x.mean(1, keepdim=True).expand_as(x), x)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Zero one size x size square per image at a random centre (it may overhang the border)."""
    check_int("size", size, minimum=0)
    _check_images(x)
    b, _, h, w = x.shape
    cy = torch.randint(0, h, (b, 1, 1), generator=generator)
    cx = torch.randint(0, w, (b, 1, 1), generator=generator)
    ys, xs = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
    inside = ((ys - cy).abs() <= size // 2) & ((xs - cx).abs() <= size // 2)   # (B, H, W)
    return x * (~inside)[:, None].to(x.dtype)


def weak_view(x: torch.Tensor, generator: torch.Generator, shift: int = 1) -> torch.Tensor:
    return translate(x, shift, generator)


def strong_view(x: torch.Tensor, generator: torch.Generator, shift: int = 1,
                cutout_size: int = 3) -> torch.Tensor:
    """Translation, colour distortion, random contrast in [0.6, 1.4], cutout."""
    check_int("cutout_size", cutout_size, minimum=0)
    x = colour_distort(translate(x, shift, generator), generator)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * (0.6 + 0.8 * torch.rand(x.shape[0], 1, 1, 1, generator=generator))
    return cutout(x, cutout_size, generator)
