"""Tiny open_clip models for CPU chapters, shipped as open_clip model-config JSON files.

The configs live in ``robustbook/clip/model_configs/*.json`` (package data; the file name is the
model name). ``register_configs()`` hands that folder to open_clip once, through the public
``open_clip.add_model_config(path)``; after it ``open_clip.create_model(name)`` and
``open_clip.get_tokenizer(name)`` know every tiny model. This module is the one place in the
library that registers CLIP configs (``robustbook.models.clip_features`` calls it too).

``robustbook-tiny-clip`` (~32k parameters, 16x16 images in 4 patches of 8x8; a few ms per batch of
16 on one CPU core) is the chapter-02 model; ``robustbook-small-clip`` is twice as wide and deep;
``robustbook-tiny-clip-bpe`` has CLIP's BPE vocabulary (for real captions); ``robustbook-tiny-vit``
is a 32x32 one-layer ViT for feature-extractor tests. (4x4 patches learnt markedly slower on
upscaled digits: 10-50% vs 62-75% zero-shot after 1,200 samples on development seeds.)
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import open_clip
import torch

from robustbook._checks import check_int, require

CONFIG_DIR = Path(__file__).parent / "model_configs"
TINY_CLIP_CONFIGS: dict[str, dict] = {p.stem: json.loads(p.read_text()) for p in sorted(CONFIG_DIR.glob("*.json"))}
_registered: set[str] = set()


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
    for name, value in (("image_size", image_size), ("patch_size", patch_size), ("width", width),
                        ("layers", layers), ("text_width", text_width), ("text_layers", text_layers),
                        ("context_length", context_length), ("vocab_size", vocab_size), ("embed_dim", embed_dim)):
        check_int(name, value)
    require(image_size % patch_size == 0,
            f"image_size must be a multiple of patch_size, got image_size={image_size}, patch_size={patch_size}")
    require(width % 32 == 0, f"width must be a multiple of 32 (the image tower's head width), got {width}")
    text_heads = max(1, text_width // 32)
    require(text_width % text_heads == 0,
            f"text_width must be divisible by its {text_heads} heads (text_width // 32), got {text_width}")
    return {"embed_dim": embed_dim,
            "vision_cfg": {"image_size": image_size, "patch_size": patch_size, "width": width,
                           "layers": layers, "head_width": 32, "pool_type": "avg"},
            "text_cfg": {"context_length": context_length, "vocab_size": vocab_size,
                         "width": text_width, "heads": max(1, text_width // 32), "layers": text_layers}}


def register_configs() -> None:
    """Register the packaged tiny configs with open_clip (once per process)."""
    if str(CONFIG_DIR) not in _registered:
        open_clip.add_model_config(CONFIG_DIR)
        _registered.add(str(CONFIG_DIR))


def register(name: str, config: dict | None = None) -> None:
    """Make model ``name`` known to open_clip: a packaged tiny config (``config=None``), or a custom
    ``config`` dict, written as ``name.json`` to a private folder and added the same public way."""
    if config is None:
        if name not in TINY_CLIP_CONFIGS:
            raise KeyError(f"no config named {name!r}; known tiny configs: {', '.join(TINY_CLIP_CONFIGS)}")
        register_configs()
        return
    require(isinstance(name, str) and name != "" and "/" not in name,
            f"name must be a non-empty model name without '/', got {name!r}")
    missing = [key for key in ("embed_dim", "vision_cfg", "text_cfg") if key not in config]
    # open_clip silently skips a config without these keys: the model would be "unknown" later
    require(not missing, f"config must have 'embed_dim', 'vision_cfg' and 'text_cfg', missing {missing}")
    path = Path(tempfile.mkdtemp(prefix="robustbook-clip-")) / f"{name}.json"
    path.write_text(json.dumps(config))
    open_clip.add_model_config(path)


def create_clip(name: str, *, device: str | torch.device = "cpu", seed: int | None = None) -> torch.nn.Module:
    """An untrained open_clip model by name (a tiny config above, or any open_clip name such as
    ``"ViT-B-32"``); ``pretrained=None`` always (nothing is downloaded). ``seed`` fixes the init."""
    register_configs()
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
    config), after registering the tiny configs so their context length is used."""
    register_configs()
    return open_clip.get_tokenizer(name)
