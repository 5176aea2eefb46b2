"""Contrastive training of an open_clip model for a budget of samples seen (CLIP's InfoNCE with
open_clip's ``ClipLoss``: symmetric cross-entropy over the image-text similarity matrix scaled by
the learned temperature, Radford et al., 2021, Fig. 3)."""

from __future__ import annotations

from collections.abc import Iterable

import open_clip
import torch

from robustbook._checks import check_int, check_number, require
from robustbook.optim.schedule import warmup_cosine
from robustbook.scaling_laws.budget import budget_batches

MAX_LOGIT_SCALE = 4.6052  # ln(100): open_clip's trainer clamps the learned temperature here


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups as open_clip's trainer makes them: no weight decay on gains, biases,
    embeddings of shape (n,) and the logit scale (every parameter with fewer than 2 dims)."""
    check_number("weight_decay", weight_decay, low=0)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "logit_scale" not in n]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2 or "logit_scale" in n]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def contrastive_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     loss_fn: torch.nn.Module | None = None, autocast_dtype: torch.dtype | None = None):
    """``step(images (B, 3, H, W), tokens (B, L)) -> loss``: one optimizer step on ClipLoss; the
    logit scale is clamped to [0, ln 100] afterwards, as open_clip's trainer does.
    ``autocast_dtype=torch.bfloat16`` runs the forward pass in mixed precision (no loss scaling
    needed for bf16); weights and optimizer state stay in float32."""
    loss_fn = loss_fn or open_clip.ClipLoss()

    def step(images: torch.Tensor, tokens: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(images.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            image_features, text_features, logit_scale = model(images, tokens)[:3]
            loss = loss_fn(image_features, text_features, logit_scale)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        return float(loss.detach())

    return step


def train_on_batches(model: torch.nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                     *, total_steps: int, lr: float, weight_decay: float = 0.1,
                     warmup_steps: int = 10, device: str | torch.device = "cpu",
                     autocast_dtype: torch.dtype | None = None) -> list[float]:
    """AdamW with warm-up + cosine decay over ``total_steps`` on (images, tokens) batches (any
    iterable: in-memory index batches or a stream of shards). Batches of one pair are skipped
    (a contrastive loss needs two). Returns the per-step losses."""
    check_int("total_steps", total_steps)
    check_int("warmup_steps", warmup_steps, minimum=0)
    check_number("lr", lr, low=0)
    opt = torch.optim.AdamW(param_groups(model, weight_decay), lr=lr)
    schedule = warmup_cosine(opt, total_steps, warmup_steps)
    step = contrastive_step(model, opt, autocast_dtype=autocast_dtype)
    model.train()
    losses = []
    for images, tokens in batches:
        if len(images) > 1:
            losses.append(step(images.to(device), tokens.to(device)))
        schedule.step()
    return losses


def train_contrastive(model: torch.nn.Module, images: torch.Tensor, tokens: torch.Tensor, *,
                      samples_seen: int, batch_size: int, lr: float, generator: torch.Generator,
                      weight_decay: float = 0.1, warmup_steps: int = 10,
                      device: str | torch.device = "cpu") -> list[float]:
    """Train on in-memory pairs (``images`` (N, 3, H, W), ``tokens`` (N, L)) for exactly
    ``samples_seen`` samples: shuffled passes back to back, the last batch cut short."""
    require(images.ndim == 4, f"images must be (N, 3, H, W), got shape {tuple(images.shape)}")
    require(tokens.ndim == 2 and len(tokens) == len(images),
            f"tokens must be (N, L) with one row per image, got shape {tuple(tokens.shape)} for {len(images)} images")
    index_batches = budget_batches(len(images), samples_seen, batch_size, generator)
    batches = ((images[idx], tokens[idx]) for idx in index_batches)
    return train_on_batches(model, batches, total_steps=len(index_batches), lr=lr,
                            weight_decay=weight_decay, warmup_steps=warmup_steps, device=device)
