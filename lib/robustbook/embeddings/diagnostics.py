"""Diagnostics of what pooled states encode: how much a span's pooled state varies across
sentences (``spread``), and how well a causal LM copies a repeated text (``copy_accuracy``).

Used by chapter 05 to locate why echo embeddings of a tiny LM prefer surface overlap on whole
sentences: in the second occurrence every token is predictable from the first, so each state
carries the identity of the word it is about to copy.
"""

from __future__ import annotations

import torch


def spread(x: torch.Tensor) -> float:
    """Root-mean-square distance of the rows of ``x`` (N, d) to their mean: how much an
    embedding varies across sentences. 0 when every row is the same."""
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be (N, d) with N >= 2 rows, got shape {tuple(x.shape)}")
    centred = x - x.mean(0, keepdim=True)
    return float(centred.pow(2).sum(1).mean().sqrt())


@torch.no_grad()
def copy_accuracy(model: torch.nn.Module, input_ids: torch.Tensor, first: int, length: int) -> float:
    """Share of the second occurrence's tokens that ``model`` predicts exactly (greedy) when a
    text of ``length`` tokens starting at position ``first`` (a 0-based column of ``input_ids``,
    (N, T)) is repeated right after a one-token separator: the second copy starts at
    ``first + length + 1``, and its token at t is predicted from the logits at t - 1."""
    ids = torch.as_tensor(input_ids)
    if ids.ndim != 2:
        raise ValueError(f"input_ids must be (N, T), got shape {tuple(ids.shape)}")
    if first < 0 or length < 1:
        raise ValueError(f"need first >= 0 and length >= 1, got first={first}, length={length}")
    second = first + length + 1
    if second + length > ids.shape[1]:
        raise ValueError(f"the second copy ends at column {second + length}, past T = {ids.shape[1]}")
    model.eval()
    predicted = model(ids).logits.argmax(-1)  # (N, T): the token predicted for position t + 1
    hits = predicted[:, second - 1:second + length - 1] == ids[:, second:second + length]
    return float(hits.float().mean())
