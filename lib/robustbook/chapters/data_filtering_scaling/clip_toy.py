"""Part 4 at CPU scale: a tiny open_clip model trained contrastively on digit images with captions
whose buckets differ in caption quality, evaluated zero-shot from class-name prompts.

Randomness inside a reported seed: the pool (split, wrong captions) from ``derive_seed(seed,
"caption pool")``; the model's initial weights and the data order from ``derive_seed(seed, "clip")``
-- the same for every pool and budget of the seed (paired runs). One run per (seed, pool, budget):
a tiny CLIP sits on a plateau at the start for a random number of steps, which makes the smallest
budget noisy (see the chapter)."""

from __future__ import annotations

import pandas as pd
import torch

from robustbook.book.chapter import derive_seed, generator
from robustbook.chapters.data_filtering_scaling.config import Settings
from robustbook.clip import WordTokenizer, create_clip, train_contrastive, zero_shot_accuracy
from robustbook.data.caption_pools import (
    CAPTION_TEMPLATES,
    DIGIT_NAMES,
    PROMPT_TEMPLATES,
    CaptionPool,
    digit_caption_pool,
)


def digit_tokenizer(context_length: int = 8) -> WordTokenizer:
    """Word tokenizer over every caption and prompt the toy can produce."""
    texts = [t.format(name) for t in CAPTION_TEMPLATES + PROMPT_TEMPLATES for name in DIGIT_NAMES]
    return WordTokenizer(texts, context_length=context_length)


def train_and_evaluate(pool: CaptionPool, m: int, samples_seen: int, s: Settings, seed: int,
                       tokenizer: WordTokenizer, device: torch.device) -> float:
    """Zero-shot test accuracy of a fresh CLIP trained on the top-m buckets for ``samples_seen``."""
    images, captions = pool.top(m)
    model = create_clip(s.clip_model, seed=derive_seed(seed, "clip"), device=device)
    train_contrastive(model, images, tokenizer(captions), samples_seen=samples_seen,
                      batch_size=s.clip_batch_size, lr=s.clip_lr, warmup_steps=s.clip_warmup,
                      generator=generator(seed, "clip"), device=device)
    return zero_shot_accuracy(model, tokenizer, pool.test_images, pool.test_labels, pool.class_names,
                              PROMPT_TEMPLATES, device=device)


def clip_runs(s: Settings, device: torch.device) -> pd.DataFrame:
    """Every (seed, pool top-m, budget): zero-shot accuracy. Columns seed, m, pool_size, budget,
    passes, accuracy."""
    tokenizer = digit_tokenizer()
    rows = []
    for seed in s.seeds:
        pool = digit_caption_pool(bucket_size=s.clip_bucket_size, caption_noise=s.caption_noise,
                                  seed=derive_seed(seed, "caption pool"))
        for m in s.clip_pools:
            size = m * s.clip_bucket_size
            rows += [{"seed": seed, "m": m, "pool_size": size, "budget": n, "passes": n / size,
                      "accuracy": train_and_evaluate(pool, m, n, s, seed, tokenizer, device)}
                     for n in s.clip_budgets]
    return pd.DataFrame(rows)
