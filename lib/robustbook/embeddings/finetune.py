"""Contrastive fine-tuning of a causal LM's template embeddings with in-batch negatives (the
paper's fine-tuning recipe, Springer et al., 2024, Sec. 5, at toy scale).

For a batch of B pairs (query_i, positive_i) the loss is the InfoNCE / multiple-negatives ranking
loss: cross-entropy of ``cos(q_i, p_j) / temperature`` over j with target i, so every other
positive in the batch is a negative. Embeddings are mean-pooled over the template's pooled
positions, with gradients (``embed`` is inference-only).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from robustbook.embeddings.extract import collate, pad_token_id
from robustbook.embeddings.pooling import mean_pool
from robustbook.embeddings.templates import Template, parse_template, render


def info_nce(queries: torch.Tensor, positives: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean in-batch InfoNCE loss of (B, d) ``queries`` against (B, d) ``positives`` (row i of
    each is a pair; every other row is a negative), on cosine similarities / ``temperature``."""
    if queries.shape != positives.shape or queries.ndim != 2:
        raise ValueError(f"queries and positives must be (B, d) of one shape, got {tuple(queries.shape)} "
                         f"and {tuple(positives.shape)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = F.normalize(queries, dim=-1) @ F.normalize(positives, dim=-1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(queries), device=queries.device))


def pooled_embeddings(model: torch.nn.Module, tokenizer, template: Template | str,
                      rows: Sequence[dict[str, str]]) -> torch.Tensor:
    """(N, d) mean-pooled template embeddings of ``rows``, differentiable (right padding)."""
    template = parse_template(template) if isinstance(template, str) else template
    batch = collate([render(template, tokenizer, r) for r in rows], pad_token_id(tokenizer))
    device = next(model.parameters()).device
    batch = batch.to(device)
    base = getattr(model, "base_model", model)
    states = base(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                  position_ids=batch.position_ids).last_hidden_state
    return mean_pool(states.float(), batch.pooled_mask)


def contrastive_finetune(model: torch.nn.Module, tokenizer, template: Template | str,
                         batches: Sequence[Sequence[tuple[dict[str, str], dict[str, str]]]], *,
                         lr: float, temperature: float = 0.05, progress: bool | str = False) -> list[float]:
    """One AdamW step per batch of (query row, positive row) pairs, embeddings from ``template``;
    returns the loss of each step. ``model`` is trained in place."""
    if not batches or any(len(b) < 2 for b in batches):
        raise ValueError("batches must be non-empty, each with at least 2 pairs (in-batch negatives)")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    template = parse_template(template) if isinstance(template, str) else template
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for pairs in tqdm(batches, desc=progress if isinstance(progress, str) else "contrastive fine-tuning",
                      disable=not progress, leave=False):
        queries = pooled_embeddings(model, tokenizer, template, [q for q, _ in pairs])
        positives = pooled_embeddings(model, tokenizer, template, [p for _, p in pairs])
        loss = info_nce(queries, positives, temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses
