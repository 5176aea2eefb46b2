"""A word-level tokenizer for synthetic captions, laid out like CLIP's BPE tokenizer.

Ids: 0 = padding, 1 = unknown word, 2.. = words, then start-of-text and end-of-text as the two
*highest* ids, because open_clip pools the text tower at ``argmax(token id)`` (CLIP's EOT rule).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import torch

from robustbook._checks import check_int

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words of ``text`` (punctuation dropped)."""
    return _WORD.findall(text.lower())


class WordTokenizer:
    """``tok(texts) -> LongTensor (B, context_length)``: [SOT, w1, ..., EOT, 0, ...], truncated so
    EOT always fits. Build it from every text the model will see (captions and prompts)."""

    PAD, UNK = 0, 1

    def __init__(self, texts: Iterable[str], context_length: int = 8) -> None:
        if isinstance(texts, str):
            raise ValueError(f"texts must be an iterable of texts, not one string (its characters would "
                             f"become the vocabulary), got {texts[:40]!r}")
        check_int("context_length", context_length, minimum=2)  # room for SOT and EOT
        vocab = sorted({w for t in texts for w in words(t)})
        self.ids = {w: i + 2 for i, w in enumerate(vocab)}
        self.sot, self.eot = len(vocab) + 2, len(vocab) + 3
        self.context_length = context_length

    @property
    def vocab_size(self) -> int:
        """Smallest embedding table that holds every id (EOT is the largest)."""
        return self.eot + 1

    def __call__(self, texts: str | list[str]) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else texts
        out = torch.zeros(len(texts), self.context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [self.ids.get(w, self.UNK) for w in words(text)][: self.context_length - 2]
            seq = [self.sot, *ids, self.eot]
            out[row, : len(seq)] = torch.tensor(seq)
        return out
