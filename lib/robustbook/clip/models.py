"""Tiny open_clip models for CPU chapters: configs registered in open_clip's model-config table.

``open_clip.create_model(name, pretrained=None)`` builds any model whose config is in
``open_clip.factory._MODEL_CONFIGS``. The documented ``open_clip.add_model_config(path)`` reads JSON
files and *rescans* the table, which would drop configs added in memory; so ``register`` writes the
dict into the table and ``create_clip`` re-registers before every build (idempotent).
"""

from __future__ import annotations

import copy
import logging

import open_clip
import torch
from open_clip import factory


def tiny_clip_config(*, image_size: int = 16, patch_size: int = 8, width: int = 32, layers: int = 1,
                     text_width: int = 32, text_layers: int = 1, context_length: int = 8,
                     vocab_size: int = 64, embed_dim: int = 32) -> dict:
    """An open_clip CLIP config: a ViT image tower (``image_size``/``patch_size`` patches,
    ``width`` wide, ``layers`` deep, 32-wide heads) and a causal text transformer pooled at the
    end-of-text token (the highest token id, as in CLIP), both projected to ``embed_dim``.

    The image tower average-pools its patch tokens (open_clip's ``pool_type="avg"``) instead of
    reading the class token: with one or two layers the class token's output is nearly the same
    for every image at initialisation (cosine ~0.998), and training sat on a plateau for
    thousands of samples; average pooling starts at ~0.73 and learns at once."""
    return {"embed_dim": embed_dim,
            "vision_cfg": {"image_size": image_size, "patch_size": patch_size, "width": width,
                           "layers": layers, "head_width": 32, "pool_type": "avg"},
            "text_cfg": {"context_length": context_length, "vocab_size": vocab_size,
                         "width": text_width, "heads": max(1, text_width // 32), "layers": text_layers}}


# Named configs shared by chapters (a dict literal is enough: a handful of variants).
TINY_CLIP_CONFIGS: dict[str, dict] = {
    # ~32k parameters, 16x16 images in 4 patches of 8x8; a few ms per batch of 16 on one CPU core.
    # (4x4 patches learnt markedly slower on upscaled digits: 10-50% vs 62-75% zero-shot after 1,200
    # samples on development seeds.)
    "robustbook-tiny-clip": tiny_clip_config(),
    "robustbook-small-clip": tiny_clip_config(width=64, layers=2, text_width=64, text_layers=2,
                                              embed_dim=64),
    # Same towers with CLIP's BPE vocabulary (open_clip.get_tokenizer works): for real captions.
    "robustbook-tiny-clip-bpe": tiny_clip_config(image_size=32, vocab_size=49408, context_length=32),
}


def register(name: str, config: dict | None = None) -> None:
    """Put ``config`` (default: ``TINY_CLIP_CONFIGS[name]``) into open_clip's config table."""
    if config is None:
        if name not in TINY_CLIP_CONFIGS:
            raise KeyError(f"no config named {name!r}; known tiny configs: {', '.join(TINY_CLIP_CONFIGS)}")
        config = TINY_CLIP_CONFIGS[name]
    factory._MODEL_CONFIGS[name] = copy.deepcopy(config)


def create_clip(name: str, *, device: str | torch.device = "cpu", seed: int | None = None) -> torch.nn.Module:
    """An untrained open_clip model by name (a tiny config above, or any open_clip name such as
    ``"ViT-B-32"``); ``pretrained=None`` always (nothing is downloaded). ``seed`` fixes the init."""
    if name in TINY_CLIP_CONFIGS:
        register(name)
    if name not in open_clip.list_models():
        raise KeyError(f"open_clip knows no model {name!r} (tiny configs: {', '.join(TINY_CLIP_CONFIGS)})")
    if seed is not None:
        torch.manual_seed(seed)
    logging.disable(logging.WARNING)  # silence "No pretrained weights loaded": none are wanted
    try:
        return open_clip.create_model(name, pretrained=None, device=device)
    finally:
        logging.disable(logging.NOTSET)


def clip_tokenizer(name: str):
    """open_clip's tokenizer for model ``name`` (CLIP's BPE for ViT-B-32 and the ``-bpe`` tiny
    config), registering a tiny config first so its context length is used."""
    if name in TINY_CLIP_CONFIGS:
        register(name)
    return open_clip.get_tokenizer(name)
