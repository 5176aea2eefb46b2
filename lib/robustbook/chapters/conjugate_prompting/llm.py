"""Chapter 10's LLM half (paper preset): score each causal LM on the ICL-vs-instruction prompts in
English and the conjugate languages. Models are folders under ``data_dir`` (checked before any work)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from robustbook.icl.llm_eval import icl_accuracy, load_causal_lm, missing_models
from robustbook.icl.prompts import TASKS, icl_prompts, load_translations

BUILT_IN = ("en", "leetspeak", "piglatin")


def require_models(data_dir: str | None, names: tuple[str, ...], languages: tuple[str, ...]) -> None:
    """Raise ``FileNotFoundError`` naming every missing model folder / translation table."""
    missing = missing_models(data_dir, names)
    missing += [str(Path(data_dir or "<data_dir>") / "translations" / f"{lang}.json") for lang in languages
                if lang not in BUILT_IN and not (data_dir and (Path(data_dir) / "translations" / f"{lang}.json").is_file())]
    if missing:
        raise FileNotFoundError(
            "preset paper needs causal LMs saved with save_pretrained (config.json, weights, tokenizer) "
            f"under data_dir/<name>, and translations/<language>.json tables; missing: {', '.join(missing)}")


def llm_scores(data_dir: str, names: tuple[str, ...], languages: tuple[str, ...], n_prompts: int,
               seed: int, device: torch.device, progress: bool) -> pd.DataFrame:
    """Rows (model, task, language, icl_accuracy) over ``n_prompts`` prompts per task and language."""
    rows = []
    for name in tqdm(names, desc="LLMs", disable=not progress):
        model, tok = load_causal_lm(Path(data_dir) / name, device)
        for lang in languages:
            table = None if lang in BUILT_IN else load_translations(data_dir, lang)
            for task in TASKS:
                prompts = icl_prompts(task, lang, n_prompts, seed=seed, translations=table)
                rows.append({"model": name, "task": task, "language": lang,
                             "icl_accuracy": icl_accuracy(model, tok, prompts)})
        del model
    return pd.DataFrame(rows, columns=["model", "task", "language", "icl_accuracy"])
