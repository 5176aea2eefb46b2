"""Part 4 at paper scale (preset ``paper``): DataComp-style webdataset shards filtered into quality
buckets, CLIP trained with open_clip for each pool and budget, ImageNet-style zero-shot evaluation.

Expected layout of ``data_dir`` (clip_benchmark's webdataset convention for the evaluation set):

    data_dir/train/*.tar   samples: image (jpg/png/webp) + txt (caption) + json with a quality
                           score under one of QUALITY_KEYS (e.g. a T-MARS or CLIP score)
    data_dir/eval/*.tar    samples: image + cls (integer class index)
    data_dir/eval/classnames.txt                          one class name per line
    data_dir/eval/zeroshot_classification_templates.txt   optional, one "{c}" template per line

Buckets are deciles of the score: bucket 1 = top 10%, ..., so pool top-m = the top 10m%.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import open_clip
import pandas as pd
import torch

from robustbook.book.chapter import derive_seed
from robustbook.chapters.data_filtering_scaling.config import Settings
from robustbook.clip import class_embeddings, clip_tokenizer, create_clip, train_on_batches, zero_shot_logits
from robustbook.data.webdataset_shards import image_field, list_shards, read_shards

QUALITY_KEYS = ("quality", "tmars_score", "clip_l14_similarity_score", "clip_b32_similarity_score")
DEFAULT_TEMPLATES = ("a photo of a {c}.", "a bad photo of a {c}.", "a photo of the large {c}.",
                     "a photo of the small {c}.", "itap of a {c}.")
BUCKETS_IN_POOL = 10  # T-MARS buckets of 10% of the pool each (Goyal et al., Sec. 5)


@dataclass(frozen=True)
class PaperData:
    train: list[Path]
    eval: list[Path]
    class_names: list[str]
    templates: list[str]


def check_paper_data(data_dir: str | None) -> PaperData:
    """Everything the paper preset reads, checked before any work; a FileNotFoundError names
    what is missing and where it goes."""
    if data_dir is None:
        raise FileNotFoundError("preset 'paper' needs data_dir: a folder with train/*.tar (DataComp "
                                "shards: image + txt + json quality score) and eval/*.tar + "
                                "eval/classnames.txt (ImageNet-1k in clip_benchmark's webdataset format)")
    root = Path(data_dir)
    train, evals = list_shards(root / "train"), list_shards(root / "eval")
    names, templates = root / "eval" / "classnames.txt", root / "eval" / "zeroshot_classification_templates.txt"
    missing = [what for what, ok in ((f"{root / 'train'}/*.tar (training shards)", train),
                                     (f"{root / 'eval'}/*.tar (evaluation shards with .cls)", evals),
                                     (f"{names} (one class name per line)", names.is_file())) if not ok]
    if missing:
        raise FileNotFoundError(f"preset 'paper' is missing data under {root}: " + "; ".join(missing))
    lines = templates.read_text().splitlines() if templates.is_file() else DEFAULT_TEMPLATES
    return PaperData(train, evals, [n.strip() for n in names.read_text().splitlines() if n.strip()],
                     [t.replace("{c}", "{}") for t in lines if t.strip()])


def quality_score(sample: dict) -> float:
    """The sample's quality score: the first of QUALITY_KEYS found in its json (bytes or dict)."""
    meta = sample.get("json", {})
    meta = json.loads(meta) if isinstance(meta, (bytes, str)) else meta
    for key in QUALITY_KEYS:
        if key in meta:
            return float(meta[key])
    raise KeyError(f"sample {sample['__key__']} has no quality score (json keys tried: {QUALITY_KEYS})")


def bucket_of_scores(shards: list[Path]) -> dict[str, int]:
    """Key -> bucket (0 = top 10% of scores, 1 = next 10%, ...; the bottom 60% are left out)."""
    samples = read_shards(shards, decode=False)
    keys, scores = zip(*((s["__key__"], quality_score(s)) for s in samples))
    rank = np.argsort(np.argsort(-np.asarray(scores), kind="stable"), kind="stable")  # 0 = best
    bucket = rank * BUCKETS_IN_POOL // len(scores)  # integer deciles (no float rounding)
    return {k: int(b) for k, b in zip(keys, bucket) if b < 4}


def stream_batches(data: PaperData, buckets: dict[str, int], m: int, preprocess, tokenizer, *,
                   samples_seen: int, batch_size: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images, tokens) batches from the top-m buckets for exactly ``samples_seen`` samples: passes
    over the shards in a fresh random order each time (shard-level shuffling, as webdataset does)."""
    rng, seen, batch = random.Random(seed), 0, []
    if not any(b < m for b in buckets.values()):
        raise ValueError(f"the top-{m} pool is empty: no training sample has a quality bucket below {m}")

    def in_pool(sample: dict) -> bool:
        return buckets.get(sample["__key__"], m) < m and image_field(sample) is not None

    while seen < samples_seen:
        for sample in read_shards(rng.sample(data.train, len(data.train)), select=in_pool):
            batch.append((preprocess(sample[image_field(sample)]), sample["txt"]))
            seen += 1
            if len(batch) == batch_size or seen == samples_seen:
                yield torch.stack([b[0] for b in batch]), tokenizer([b[1] for b in batch])
                batch = []
            if seen == samples_seen:
                return


def zero_shot_eval(model, tokenizer, data: PaperData, preprocess, device, batch_size: int = 256) -> float:
    """Top-1 zero-shot accuracy over the evaluation shards, streamed in batches."""
    emb = class_embeddings(model, tokenizer, data.class_names, data.templates, device)
    correct = total = 0
    images, labels = [], []
    for sample in read_shards(data.eval):
        images.append(preprocess(sample[image_field(sample)]))
        labels.append(sample["cls"])
        if len(images) == batch_size:
            correct += int((zero_shot_logits(model, torch.stack(images), emb).argmax(1) == torch.tensor(labels)).sum())
            total, images, labels = total + len(labels), [], []
    if images:
        correct += int((zero_shot_logits(model, torch.stack(images), emb).argmax(1) == torch.tensor(labels)).sum())
        total += len(labels)
    return correct / max(total, 1)


def train_and_evaluate(data: PaperData, buckets: dict[str, int], m: int, samples_seen: int, s: Settings,
                       seed: int, tokenizer, device: torch.device) -> float:
    """Zero-shot accuracy of a fresh CLIP trained on the top-m buckets of the shards for
    ``samples_seen`` (init and shard order from ``derive_seed(seed, "clip")``)."""
    # Mixed precision as open_clip's trainer uses it (bf16 on CUDA: ~3x the fp32 throughput of
    # ViT-B/32 on an H100); float32 elsewhere.
    amp = torch.bfloat16 if device.type == "cuda" else None
    model = create_clip(s.clip_model, seed=derive_seed(seed, "clip"), device=device)
    preprocess = open_clip.image_transform(model.visual.image_size, is_train=False)
    batches = stream_batches(data, buckets, m, preprocess, tokenizer, samples_seen=samples_seen,
                             batch_size=s.clip_batch_size, seed=derive_seed(seed, "clip"))
    train_on_batches(model, batches, total_steps=-(-samples_seen // s.clip_batch_size), lr=s.clip_lr,
                     warmup_steps=s.clip_warmup, device=device, autocast_dtype=amp)
    return zero_shot_eval(model, tokenizer, data, preprocess, device)


def paper_clip_runs(s: Settings, device: torch.device, data: PaperData) -> pd.DataFrame:
    """Every (seed, pool top-m, budget) on the shards; same columns as ``clip_toy.clip_runs``."""
    buckets = bucket_of_scores(data.train)
    tokenizer = clip_tokenizer(s.clip_model)
    rows = []
    for seed in s.seeds:
        for m in s.clip_pools:
            size = sum(b < m for b in buckets.values())
            for n in s.clip_budgets:
                rows.append({"seed": seed, "m": m, "pool_size": size, "budget": n, "passes": n / max(size, 1),
                             "accuracy": train_and_evaluate(data, buckets, m, n, s, seed, tokenizer, device)})
    return pd.DataFrame(rows)
