"""Chapter 05's typed result: what ``run`` measured, before and after judging."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from robustbook.book.chapter import ChapterResult
from robustbook.chapters.echo_embeddings.config import Settings


@dataclass
class Result(ChapterResult):
    settings: Settings
    lm_name: str                     # the causal LM: "tiny GPT-2" (cpu, smoke) or model_name (paper)
    scores: pd.DataFrame             # per seed: model, strategy, pooling, task, score (0-1 scale)
    diagnostics: pd.DataFrame        # per seed, early-span triplets: strategy, pooling, tie_fraction, max_abs_margin
    train_loss: list[float]          # final-epoch LM loss per seed (empty at paper)
    similarity: dict[str, dict[str, dict[str, np.ndarray]]]  # {model: {span: {strategy: (n, n) cosines}}}, first seed
    finetune: pd.DataFrame | None = None  # tiny LM, first ft_seeds seeds: seed, strategy, steps, task, score
    cause: pd.DataFrame | None = None  # tiny LM, per seed: strategy, measure, value (whole_sentence_diagnosis)
    mteb_check: dict[str, dict[str, dict[str, float]]] | None = None  # {"mteb"|"ours": {strategy: {task: score}}}
    paper_mteb: pd.DataFrame | None = None  # paper preset: task, strategy, pooling, score
    lm: tuple = field(default=(), repr=False)      # (model, tokenizer) of the first seed, for the explorer
    minilm: tuple = field(default=(), repr=False)  # (model, tokenizer) of all-MiniLM-L6-v2 when used
