"""Chapter 04's named steps: build the defended chat model, measure it, attack it.

For each reported seed: pretrain a tiny GPT-2 on the colour-chat corpus, defend it with DPO,
measure the purple rate on held-out clean questions, set the perplexity filter's threshold on
clean prompts, then attack held-out questions with GCG and with the perplexity-adaptive GCG.
Every reply is judged by the three defenses (fine-tuning alone, + perplexity filter, + output filter).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from robustbook.book.chapter import derive_seed, generator
from robustbook.chapters.purple_problem.config import Settings
from robustbook.jailbreak.chat import replies, timed_replies
from robustbook.jailbreak.corpus import ASSISTANT, ColorChat, prompt_text
from robustbook.jailbreak.dpo import dpo_train
from robustbook.jailbreak.filters import (
    encode_right_padded,
    log_perplexities,
    output_flagged,
    perplexity_threshold,
)
from robustbook.models.tiny_lm import tiny_gpt2, train_causal_lm, word_tokenizer

ATTACKS = {"none": "no attack (clean prompt)", "gcg": "GCG", "adaptive": "GCG + fluency (adaptive)"}
DEFENSES = {"dpo": "DPO fine-tuning", "ppl": "DPO + perplexity filter", "output": "DPO + output filter"}


@dataclass
class Subject:
    """The defended chat model and the prompts it is measured on."""

    model: torch.nn.Module
    tokenizer: object
    heldout: list[str]                    # purple-eliciting questions never used by the defense
    clean_fit: list[str]                  # clean prompts that set the perplexity threshold
    clean_test: list[str]                 # other clean prompts: the filter's false-positive rate
    render: Callable[[str], tuple[str, str]]   # question -> (text before suffix, text after)
    fluent_init: str | None = None        # the adaptive attack's first suffix (a fluent chat turn)
    benign: list[tuple[str, str]] = field(default_factory=list)  # (question, right colour)
    stats: dict = field(default_factory=dict)


def _plain_render(question: str) -> tuple[str, str]:
    return prompt_text(question).removesuffix(ASSISTANT).strip(), ASSISTANT


def full_prompt(subject: Subject, question: str, suffix: str = "") -> str:
    before, after = subject.render(question)
    return " ".join(x for x in (before, suffix, after) if x)


def benign_accuracy(model, tok, benign: list[tuple[str, str]], max_new_tokens: int) -> float:
    """Share of benign questions answered with the right colour."""
    texts = replies(model, tok, [prompt_text(q) for q, _ in benign], max_new_tokens)
    return float(np.mean([c in t.split() for (_, c), t in zip(benign, texts)]))


def train_subject(s: Settings, seed: int, device: torch.device, progress: bool) -> Subject:
    """Pretrain the tiny chat LM from scratch, then defend it with DPO (cpu and smoke presets)."""
    chat = ColorChat(seed=derive_seed(seed, "corpus"))
    tok = word_tokenizer(chat.vocabulary())
    texts = chat.pretraining_texts(s.n_texts, np.random.default_rng(derive_seed(seed, "texts")))
    model = tiny_gpt2(len(tok), n_embd=s.n_embd, seed=derive_seed(seed, "init")).to(device)
    t0 = time.perf_counter()
    history = train_causal_lm(model, encode_right_padded(tok, texts), pad_id=tok.pad_token_id,
                              epochs=s.epochs, batch_size=32, lr=s.lr, generator=generator(seed, "order"),
                              progress=f"pretraining, seed {seed}" if progress else False)
    heldout, benign = chat.heldout_questions(), chat.benign_questions()
    prompts = [prompt_text(q) for q in heldout]
    stats = {"pretrain_loss": history.train_loss[-1], "pretrain_s": time.perf_counter() - t0,
             "purple_before": _rate(model, tok, prompts, s.max_new_tokens),
             "benign_before": benign_accuracy(model, tok, benign, s.max_new_tokens)}
    t0 = time.perf_counter()
    pairs = chat.preference_pairs()
    stats["dpo_loss"] = dpo_train(model, tok, pairs, beta=s.dpo_beta, epochs=s.dpo_epochs, batch_size=32,
                                  lr=s.dpo_lr, generator=generator(seed, "dpo"),
                                  progress=f"DPO, seed {seed}" if progress else False)
    stats["dpo_s"] = time.perf_counter() - t0
    stats["benign_after"] = benign_accuracy(model, tok, benign, s.max_new_tokens)
    stats["purple_train_after"] = _rate(model, tok, [p for p, _, _ in pairs], s.max_new_tokens)
    clean = [prompt_text(q) for q, _ in benign]
    c = benign[0][1] if benign else "red"
    return Subject(model, tok, heldout, sorted({p for p, _, _ in pairs}) + clean[::2], clean[1::2],
                   _plain_render, f"{ASSISTANT} it is {c} . user : {benign[1][0]}", benign, stats)


def _rate(model, tok, prompts: list[str], max_new_tokens: int) -> float:
    return float(np.mean([output_flagged(r) for r in replies(model, tok, prompts, max_new_tokens)]))


def allowed_tokens(tok, vocab_size: int) -> torch.Tensor:
    """(V,) bool: suffix tokens GCG may use — no special tokens, printable ASCII only."""
    allowed = torch.zeros(vocab_size, dtype=torch.bool)
    special = set(tok.all_special_ids)
    for i in range(min(vocab_size, len(tok))):
        text = tok.decode([i])
        allowed[i] = i not in special and text.strip() != "" and text.isascii() and text.isprintable()
    return allowed


def _log_ppl(subject: Subject, prompts: list[str]) -> torch.Tensor:
    ids = encode_right_padded(subject.tokenizer, prompts).to(next(subject.model.parameters()).device)
    return log_perplexities(subject.model, ids, subject.tokenizer.pad_token_id).cpu()


def defense_metrics(subject: Subject, s: Settings) -> dict:
    """Clean purple rate after the defense, the perplexity threshold, its false-positive rate and
    the output filter's cost (seconds per reply, generating vs. checking)."""
    prompts = [full_prompt(subject, q) for q in subject.heldout]
    threshold = perplexity_threshold(_log_ppl(subject, subject.clean_fit))
    gen_s, filter_s = timed_replies(subject.model, subject.tokenizer, prompts, s.max_new_tokens)
    return {**subject.stats, "purple_after": _rate(subject.model, subject.tokenizer, prompts, s.max_new_tokens),
            "ppl_threshold": threshold,
            "ppl_false_positive": float((_log_ppl(subject, subject.clean_test) > threshold).float().mean()),
            "gen_s_per_reply": gen_s, "filter_s_per_reply": filter_s}


def _judge(subject: Subject, s: Settings, question: str, suffix: str, threshold: float) -> dict:
    prompt = full_prompt(subject, question, suffix)
    reply = replies(subject.model, subject.tokenizer, [prompt], s.max_new_tokens)[0]
    log_ppl = float(_log_ppl(subject, [prompt])[0])
    return {"question": question, "suffix": suffix, "reply": reply, "said_purple": output_flagged(reply),
            "log_ppl": log_ppl, "ppl_flagged": log_ppl > threshold, "output_flagged": output_flagged(reply)}


def clean_rows(subject: Subject, s: Settings, seed: int, threshold: float) -> list[dict]:
    return [{"seed": seed, "attack": "none", "prompt": i, **_judge(subject, s, q, "", threshold)}
            for i, q in enumerate(subject.heldout)]
