"""Training and worst-group selection for the paper preset: one transformer model at a time
(the paper's scale), the same methods as the batched CPU trainer (ERM, ERM + l1, MTL, MTL + l1,
JTT's two stages) and the same per-epoch record of group accuracies on validation and test."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from robustbook._checks import check_choice, check_int, check_number, require
from robustbook.groups.jtt import error_set, upsample_pool
from robustbook.groups.metrics import average_accuracy, group_accuracy
from robustbook.groups.paper_models import MODALITIES, TransformerMTL, mtl_transformer_loss, random_token_mask
from robustbook.groups.train import TrainHistory


def encode(model: TransformerMTL, inputs: Sequence, image_size: int | None = None) -> dict:
    """Model inputs for a list of texts, (premise, hypothesis) pairs or image paths."""
    if model.modality == "text":
        if inputs and isinstance(inputs[0], tuple):
            first, second = zip(*inputs)
            return dict(model.tokenizer(list(first), list(second), padding=True, truncation=True,
                                        max_length=128, return_tensors="pt"))
        return dict(model.tokenizer(list(inputs), padding=True, truncation=True, max_length=128,
                                    return_tensors="pt"))
    from PIL import Image

    size = image_size or model.pretrain.config.image_size
    arrays = [np.asarray(Image.open(p).convert("RGB").resize((size, size)), dtype=np.float32) / 255.0
              for p in inputs]
    return {"pixel_values": (torch.as_tensor(np.stack(arrays)).permute(0, 3, 1, 2) - 0.5) / 0.5}


def _aux_mask(model: TransformerMTL, enc: dict, rate: float, gen: torch.Generator) -> torch.Tensor:
    if model.modality == "text":
        ids = enc["input_ids"]
        special = torch.isin(ids, torch.tensor(model.tokenizer.all_special_ids, device=ids.device))
        return random_token_mask(ids, special, rate, gen)
    cfg = model.pretrain.config
    n = (cfg.image_size // cfg.patch_size) ** 2
    return (torch.rand(enc["pixel_values"].shape[0], n, generator=gen) < rate).to(enc["pixel_values"].device)


@torch.no_grad()
def predict_table(model: TransformerMTL, inputs: Sequence, batch_size: int, device) -> torch.Tensor:
    check_int("batch_size", batch_size)
    require(len(inputs) > 0, "inputs must hold at least one example, got none")
    model.eval()
    preds = [model({k: v.to(device) for k, v in encode(model, inputs[i:i + batch_size]).items()})[0].argmax(-1).cpu()
             for i in range(0, len(inputs), batch_size)]
    model.train()
    return torch.cat(preds)


def _record(model, table: pd.DataFrame, n_groups: int, n_attr: int, batch_size: int, device):
    out = []
    for split in ("val", "test"):
        part = table[table["split"] == split]
        y, a = torch.tensor(part["y"].to_numpy(copy=True)), torch.tensor(part["a"].to_numpy(copy=True))
        pred = predict_table(model, list(part["input"]), batch_size, device)
        out += [group_accuracy(pred, y, y * n_attr + a, n_groups), average_accuracy(pred, y)]
    return out


def train_transformer(table: pd.DataFrame, *, model_name: str, modality: str, n_classes: int,
                      seed: int, epochs: int, lr: float, batch_size: int, mask_rate: float,
                      w_mt: float = 0.0, w_reg: float = 0.0, pool: torch.Tensor | None = None,
                      device="cpu", progress: str | bool = False) -> tuple[TransformerMTL, TrainHistory]:
    """Fine-tune one model on ``table``'s train split (AdamW); history of group accuracies per epoch
    (checkpoint 0 = before training) for worst-group selection."""
    check_choice("modality", modality, MODALITIES)
    check_int("n_classes", n_classes)
    check_int("epochs", epochs, minimum=0)
    check_int("batch_size", batch_size)
    check_number("lr", lr, low=0)
    check_number("mask_rate", mask_rate, low=0, high=1)
    check_number("w_mt", w_mt, low=0)
    check_number("w_reg", w_reg, low=0)
    n_train = int((table["split"] == "train").sum())
    require(n_train > 0, "table has no rows with split == 'train'")
    if pool is not None:
        require(pool.ndim == 1 and len(pool) > 0, f"pool must be a non-empty 1-D index tensor, got shape {tuple(pool.shape)}")
        low, high = int(pool.min()), int(pool.max())
        require(low >= 0 and high < n_train, f"pool indices must lie in [0, {n_train}), got [{low}, {high}]")
    torch.manual_seed(seed)
    model = TransformerMTL(model_name, n_classes, modality).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    train = table[table["split"] == "train"]
    inputs, y = list(train["input"]), torch.tensor(train["y"].to_numpy(copy=True))
    pool = torch.arange(len(train)) if pool is None else pool
    gen = torch.Generator().manual_seed(seed)
    n_attr, n_groups = 2, 2 * n_classes
    records = [_record(model, table, n_groups, n_attr, batch_size, device)]
    steps = max(1, len(train) // batch_size)
    for _ in tqdm(range(epochs), desc=progress or "", disable=not progress, leave=False):
        order = pool[torch.randperm(len(pool), generator=gen)]
        aux_order = torch.randperm(len(train), generator=gen)
        for s in range(min(steps, len(order) // batch_size or 1)):
            idx, aux_idx = order[s * batch_size:(s + 1) * batch_size], aux_order[s * batch_size:(s + 1) * batch_size]
            enc = {k: v.to(device) for k, v in encode(model, [inputs[i] for i in idx]).items()}
            aux = {k: v.to(device) for k, v in encode(model, [inputs[i] for i in aux_idx]).items()}
            loss = mtl_transformer_loss(model, enc, y[idx].to(device), aux, _aux_mask(model, aux, mask_rate, gen),
                                        w_mt=w_mt, w_reg=w_reg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        records.append(_record(model, table, n_groups, n_attr, batch_size, device))
    val_g, val_a, test_g, test_a = (torch.stack([r[i] for r in records])[None] for i in range(4))
    return model, TrainHistory(val_g, test_g, val_a, test_a)


def jtt_pool(model: TransformerMTL, table: pd.DataFrame, up: int, batch_size: int, device) -> tuple[torch.Tensor, int]:
    """JTT's stage-2 pool from a stage-1 model: (up-sampled indices, error-set size)."""
    check_int("up", up)
    train = table[table["split"] == "train"]
    pred = predict_table(model, list(train["input"]), batch_size, device)
    errors = error_set(pred, torch.tensor(train["y"].to_numpy(copy=True)))
    return upsample_pool(len(train), errors, up), len(errors)
