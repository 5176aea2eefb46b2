"""Scoring causal LMs on the in-context-vs-instruction prompts (Kotha et al., 2024, Sec. 5):
greedy continuation, counted as in-context learning when it starts with the ICL answer's first
word. Works for any ``transformers`` causal LM saved on disk (``save_pretrained`` format)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from robustbook._checks import check_int
from robustbook.icl.prompts import IclPrompt


def missing_models(data_dir: str | Path | None, names: Sequence[str]) -> list[str]:
    """The model folders ``data_dir/<name>`` (each with ``config.json``) that are not there."""
    root = Path(data_dir) if data_dir else None
    return [str(root / n if root else n) for n in names if root is None or not (root / n / "config.json").is_file()]


def load_causal_lm(path: str | Path, device: torch.device | str = "cpu"):
    """(model, tokenizer) from a local folder, offline, model in eval mode; left padding for batching."""
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).to(device).eval()
    return model, tok


@torch.no_grad()
def greedy_continuations(model, tok, prompts: Sequence[str], *, max_new_tokens: int = 8,
                         batch_size: int = 8) -> list[str]:
    """Greedy-decoded continuations (text after each prompt), batched with left padding."""
    check_int("max_new_tokens", max_new_tokens)
    check_int("batch_size", batch_size)
    device = next(model.parameters()).device
    out: list[str] = []
    for i in range(0, len(prompts), batch_size):
        enc = tok(list(prompts[i:i + batch_size]), return_tensors="pt", padding=True).to(device)
        gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id)
        out += tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return out


def follows_icl(continuation: str, answer: str) -> bool:
    """Does the continuation start with the answer's first word (whitespace-stripped)?"""
    words = answer.split()
    return bool(words) and continuation.strip().startswith(words[0])


def icl_accuracy(model, tok, prompts: Sequence[IclPrompt], **generate_kw) -> float:
    """Fraction of ``prompts`` whose greedy continuation follows the in-context task."""
    conts = greedy_continuations(model, tok, [p.prompt for p in prompts], **generate_kw)
    return sum(follows_icl(c, p.answer) for c, p in zip(conts, prompts)) / max(1, len(prompts))
