"""Find and load a pretrained causal LM from disk only (a local folder or the Hugging Face cache).

Nothing is ever downloaded here: a missing model is a ``FileNotFoundError`` that says where the
model was looked for and how to put it there.
"""

from __future__ import annotations

from pathlib import Path

import torch


def resolve_model_path(model_name: str, data_dir: str | None = None) -> Path:
    """The folder holding ``model_name``'s ``config.json``: ``data_dir/model_name``, then
    ``model_name`` as a path, then the Hugging Face hub cache (``local_files_only``)."""
    candidates = [Path(data_dir) / model_name] if data_dir else []
    candidates.append(Path(model_name).expanduser())
    for folder in candidates:
        if (folder / "config.json").is_file():
            return folder
    try:
        from huggingface_hub import snapshot_download

        cached = Path(snapshot_download(model_name, local_files_only=True))
        if (cached / "config.json").is_file():
            return cached
    except Exception:  # noqa: BLE001 - any failure means "not in the cache"; reported below
        pass
    looked = ", ".join(str(c) for c in candidates) + ", the Hugging Face cache"
    raise FileNotFoundError(
        f"model {model_name!r} not found on disk (looked in: {looked}). Download it where the hub "
        f"is reachable (`huggingface-cli download {model_name}`) and copy the folder to "
        f"data_dir/{model_name} or into the Hugging Face cache; nothing is downloaded at run time.")


def load_causal_lm(path: str | Path, device: torch.device | str = "cpu",
                   dtype: torch.dtype | None = None):
    """(base model, tokenizer) from ``path`` (local files only). The base model (``AutoModel``:
    no LM head) is all an embedding needs; ``dtype`` defaults to bfloat16 on CUDA, else float32."""
    from transformers import AutoModel, AutoTokenizer

    if dtype is None:
        dtype = torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True, dtype=dtype)
    return model.to(device).eval(), tokenizer
