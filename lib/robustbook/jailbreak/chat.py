"""Plumbing shared by the attacks and defenses: encoding, batched greedy replies, attack problems.

Works for any ``transformers`` causal LM and tokenizer (the tiny word-level chat model of the cpu
preset, or a pretrained chat model whose prompts were rendered with its chat template).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

import torch

from robustbook.jailbreak.filters import greedy_generate, output_flagged
from robustbook.jailbreak.gcg import AttackProblem


def encode(tokenizer, text: str, device: torch.device | str = "cpu") -> torch.Tensor:
    """1-D ids of ``text`` without added special tokens."""
    return torch.tensor(tokenizer(text, add_special_tokens=False)["input_ids"], device=device)


def reply_ids(model, tokenizer, prompt_ids: Sequence[torch.Tensor], max_new_tokens: int) -> list[list[int]]:
    """Greedy replies (ids, cut before the first EOS) to prompts of any lengths: prompts of equal
    length go through ``greedy_generate`` together."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(prompt_ids):
        groups[len(p)].append(i)
    out: list[list[int]] = [[] for _ in prompt_ids]
    eos = tokenizer.eos_token_id
    for idx in groups.values():
        gen = greedy_generate(model, torch.stack([prompt_ids[i] for i in idx]), max_new_tokens, eos)
        for i, row in zip(idx, gen.tolist()):
            out[i] = row[:row.index(eos)] if eos in row else row
    return out


def replies(model, tokenizer, prompts: Sequence[str], max_new_tokens: int) -> list[str]:
    """Greedy text replies to ``prompts`` (plain text, special tokens written out)."""
    device = next(model.parameters()).device
    ids = reply_ids(model, tokenizer, [encode(tokenizer, p, device) for p in prompts], max_new_tokens)
    return tokenizer.batch_decode(ids, skip_special_tokens=True)


def purple_rate(model, tokenizer, prompts: Sequence[str], max_new_tokens: int, word: str = "purple") -> float:
    """Fraction of greedy replies that contain ``word`` (in any case or spacing)."""
    return sum(output_flagged(r, word) for r in replies(model, tokenizer, prompts, max_new_tokens)) / len(prompts)


def attack_problem(tokenizer, before_suffix: str, after_suffix: str, target: str,
                   device: torch.device | str = "cpu") -> AttackProblem:
    """The GCG problem for a prompt ``before_suffix [suffix] after_suffix`` and target answer."""
    return AttackProblem(encode(tokenizer, before_suffix, device), encode(tokenizer, after_suffix, device),
                         encode(tokenizer, " " + target, device))


def timed_replies(model, tokenizer, prompts: Sequence[str], max_new_tokens: int, word: str = "purple"
                  ) -> tuple[float, float]:
    """(seconds per reply to generate, seconds per reply to run the output filter): the output
    filter's inference-time cost is the full reply it must wait for, plus the check itself."""
    t0 = time.perf_counter()
    texts = replies(model, tokenizer, prompts, max_new_tokens)
    t1 = time.perf_counter()
    for t in texts:
        output_flagged(t, word)
    t2 = time.perf_counter()
    return (t1 - t0) / len(prompts), (t2 - t1) / len(prompts)
