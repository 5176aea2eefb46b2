"""Embeddings from any causal language model in ``transformers``: render a template per input,
batch with padding, run the model, pool the marked positions.

Padding side. With a causal mask, real tokens never attend to pads placed *after* them, so right
padding (the default, as in the official code) leaves every real token's state unchanged. Left
padding also works here because we pass explicit ``position_ids`` (counting real tokens only)
besides the attention mask; without them the real tokens would be shifted to later positions.
The unit tests check both against unbatched inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from robustbook._checks import check_int, require
from robustbook.embeddings.pooling import check_poolings, pool
from robustbook.embeddings.templates import Encoded, Template, parse_template, render

PADDING_SIDES = ("right", "left")


@dataclass
class Batch:
    """Padded inputs, all (B, L): token ids, attention mask, pooled mask, position ids."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    pooled_mask: torch.Tensor
    position_ids: torch.Tensor

    def to(self, device: torch.device | str) -> Batch:
        return Batch(*(t.to(device) for t in (self.input_ids, self.attention_mask,
                                              self.pooled_mask, self.position_ids)))


def collate(encoded: Sequence[Encoded], pad_id: int, padding_side: str = "right") -> Batch:
    """Pad rendered inputs to a common length on ``padding_side``."""
    if padding_side not in PADDING_SIDES:
        raise ValueError(f"padding_side must be one of {PADDING_SIDES}, got {padding_side!r}")
    require(len(encoded) > 0, "encoded must hold at least one rendered input, got none")
    length = max(len(e.input_ids) for e in encoded)
    ids = torch.full((len(encoded), length), pad_id, dtype=torch.long)
    attn = torch.zeros((len(encoded), length), dtype=torch.long)
    pooled = torch.zeros((len(encoded), length), dtype=torch.bool)
    for row, e in enumerate(encoded):
        n = len(e.input_ids)
        cols = slice(0, n) if padding_side == "right" else slice(length - n, length)
        ids[row, cols] = torch.tensor(e.input_ids, dtype=torch.long)
        attn[row, cols] = 1
        pooled[row, cols] = torch.tensor(e.pooled, dtype=torch.bool)
    positions = (attn.cumsum(1) - 1).clamp(min=0)
    return Batch(ids, attn, pooled, positions)


@torch.no_grad()
def token_states(model: torch.nn.Module, batch: Batch, layer: int = -1) -> torch.Tensor:
    """Hidden states (B, L, d) of ``layer`` (-1: the final one, after the final norm) of a causal
    LM or its base model, in float32."""
    require(isinstance(layer, int) and not isinstance(layer, bool), f"layer must be an integer, got {layer!r}")
    base = getattr(model, "base_model", model)
    out = base(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
               position_ids=batch.position_ids, output_hidden_states=layer != -1)
    states = out.last_hidden_state if layer == -1 else out.hidden_states[layer]
    return states.float()


def pad_token_id(tokenizer) -> int:
    """The tokenizer's pad id, else its EOS or UNK id (pads are masked out; any id works)."""
    for name in ("pad_token_id", "eos_token_id", "unk_token_id"):
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    return 0


def _embed_group(model: torch.nn.Module, encoded: dict[str, list[Encoded]], poolings: Sequence[str],
                 *, pad_id: int, padding_side: str, batch_size: int, layer: int
                 ) -> dict[tuple[str, str], torch.Tensor]:
    """Templates whose inputs have identical token ids share one forward pass per batch."""
    names = list(encoded)
    first = encoded[names[0]]
    order = np.argsort([len(e.input_ids) for e in first], kind="stable")
    device = next(model.parameters()).device
    chunks: dict[tuple[str, str], list[torch.Tensor]] = {(n, p): [] for n in names for p in poolings}
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batches = {n: collate([encoded[n][i] for i in idx], pad_id, padding_side) for n in names}
        states = token_states(model, batches[names[0]].to(device), layer)
        for n, b in batches.items():
            for p in poolings:
                chunks[(n, p)].append(pool(states, b.pooled_mask.to(device), p).cpu())
    unsort = torch.from_numpy(np.argsort(order, kind="stable"))
    return {k: torch.cat(v)[unsort] for k, v in chunks.items()}


def embed_variants(model: torch.nn.Module, tokenizer, templates: dict[str, Template | str],
                   rows: Sequence[dict[str, str]], poolings: Sequence[str] = ("mean",), *,
                   padding_side: str = "right", batch_size: int = 64, layer: int = -1,
                   max_tokens: int | None = None) -> dict[tuple[str, str], torch.Tensor]:
    """Embeddings of ``rows`` (template variables, e.g. ``{"text": ...}``) for every template and
    pooling: ``{(template name, pooling): (N, d)}``. Pooling is over each template's pooled
    positions; templates that render to the same tokens (e.g. one sentence pooled over two
    different spans) share a forward pass. Inputs are batched by length."""
    if not rows:
        raise ValueError("no rows to embed")
    require(len(templates) > 0, "templates must name at least one template, got none")
    check_poolings(poolings)
    if padding_side not in PADDING_SIDES:
        raise ValueError(f"padding_side must be one of {PADDING_SIDES}, got {padding_side!r}")
    check_int("batch_size", batch_size)
    if max_tokens is not None:
        check_int("max_tokens", max_tokens)
    require(isinstance(layer, int) and not isinstance(layer, bool), f"layer must be an integer, got {layer!r}")
    parsed = {k: parse_template(t) if isinstance(t, str) else t for k, t in templates.items()}
    encoded = {k: [render(t, tokenizer, r, max_tokens) for r in rows] for k, t in parsed.items()}
    groups: dict[tuple, list[str]] = {}
    for name, enc in encoded.items():
        groups.setdefault(tuple(e.input_ids for e in enc), []).append(name)
    was_training = model.training
    model.eval()
    try:
        out: dict[tuple[str, str], torch.Tensor] = {}
        for names in groups.values():
            out.update(_embed_group(model, {n: encoded[n] for n in names}, poolings,
                                    pad_id=pad_token_id(tokenizer), padding_side=padding_side,
                                    batch_size=batch_size, layer=layer))
    finally:
        model.train(was_training)
    return out


def embed(model: torch.nn.Module, tokenizer, template: Template | str, rows: Sequence[dict[str, str]],
          pooling: str = "mean", **kwargs) -> torch.Tensor:
    """Embeddings (N, d) of ``rows`` with one template and one pooling ("mean" or "last");
    keyword arguments as in ``embed_variants``."""
    return embed_variants(model, tokenizer, {"t": template}, rows, (pooling,), **kwargs)[("t", pooling)]
