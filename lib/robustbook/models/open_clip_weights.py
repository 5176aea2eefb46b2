"""Is a pretrained OpenCLIP model in the local cache? Checked before any work, offline.

``open_clip.create_model_and_transforms(name, pretrained=tag)`` downloads the weights when they
are missing, deep inside feature extraction; on a machine without network that fails late and
with open_clip's error. :func:`check_open_clip_weights` answers first, naming the exact file that
is missing and the folder open_clip reads it from (the Hugging Face hub cache, or
``~/.cache/clip`` for URL-hosted weights), or accepts a path to a weights file.
"""

from __future__ import annotations

import os
from pathlib import Path

CLIP_URL_CACHE = "~/.cache/clip"  # where open_clip keeps weights it fetched from a URL


def _hf_candidates(hf_hub: str) -> tuple[str, list[str]]:
    """(repo id, file names open_clip tries in order): a .safetensors twin first, as open_clip."""
    from open_clip.pretrained import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    repo, filename = os.path.split(hf_hub)  # "org/model/" -> ("org/model", ""), as open_clip
    filename = filename or HF_WEIGHTS_NAME
    twins = [HF_SAFE_WEIGHTS_NAME] if filename == HF_WEIGHTS_NAME else (
        [filename[:-4] + ".safetensors"] if filename.endswith((".bin", ".pth")) else [])
    return repo, [*twins, filename]


def cached_open_clip_weights(name: str, pretrained: str, *, hf_cache: str | Path | None = None,
                             url_cache: str | Path | None = None) -> Path:
    """The local file open_clip would load for ``(name, pretrained)``; raises FileNotFoundError
    saying exactly what is missing and where it goes. ``pretrained`` is an open_clip tag or a
    path to a weights file. ``hf_cache`` / ``url_cache`` default to open_clip's own locations."""
    import open_clip
    from huggingface_hub import constants, try_to_load_from_cache
    from open_clip.pretrained import get_pretrained_cfg

    if Path(pretrained).expanduser().is_file():
        return Path(pretrained).expanduser()
    if os.sep in pretrained or pretrained.endswith((".pt", ".pth", ".bin", ".safetensors")):
        raise FileNotFoundError(f"open_clip weights file {pretrained} does not exist")
    cfg = get_pretrained_cfg(name, pretrained)
    if not cfg:
        known = open_clip.list_pretrained_tags_by_model(name)
        raise FileNotFoundError(f"open_clip has no pretrained tag {pretrained!r} for model {name!r} "
                                f"(known tags: {', '.join(known) or 'none: unknown model'})")
    if cfg.get("hf_hub"):
        repo, files = _hf_candidates(cfg["hf_hub"])
        cache = Path(hf_cache or constants.HF_HUB_CACHE)
        for filename in files:
            found = try_to_load_from_cache(repo, filename, cache_dir=cache)
            if isinstance(found, str):
                return Path(found)
        folder = cache / f"models--{repo.replace('/', '--')}"
        raise FileNotFoundError(
            f"the open_clip weights of {name} / {pretrained} are not in the local cache: expected "
            f"{' or '.join(files)} of the Hugging Face repo {repo} under {folder}/snapshots/<revision>/ "
            f"(Hugging Face hub cache {cache}). On a machine with network, run "
            f"`python -c \"import open_clip; open_clip.create_model_and_transforms('{name}', "
            f"pretrained='{pretrained}')\"` and copy {folder.name}/ into {cache}/, or pass "
            f"clip_pretrained=/path/to/{files[-1]}")
    url = cfg.get("url", "")
    target = Path(url_cache or CLIP_URL_CACHE).expanduser() / os.path.basename(url)
    if target.is_file():
        return target
    raise FileNotFoundError(f"the open_clip weights of {name} / {pretrained} are not in the local "
                            f"cache: expected {target} (downloaded from {url}); put the file there "
                            f"or pass clip_pretrained=/path/to/{target.name}")


def check_open_clip_weights(name: str, pretrained: str | None, **caches) -> None:
    """Raise FileNotFoundError (see :func:`cached_open_clip_weights`) unless the weights are
    local; ``pretrained=None`` (random weights, tests) needs nothing."""
    if pretrained is not None:
        cached_open_clip_weights(name, pretrained, **caches)
