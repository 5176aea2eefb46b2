"""Greedy coordinate gradient (GCG) adversarial suffixes (Zou et al., 2023), as used by Kim et al.
(2024, Sec. 4) to make a purple-avoiding model say "purple".

The prompt is ``prefix + suffix + post`` (e.g. ``<s> user : question`` + L suffix tokens +
``assistant :``) followed by the target answer. One step:

1. gradient of the objective w.r.t. the one-hot suffix matrix X (L, V) (``token_gradients``);
2. per position, the top-k tokens with the most negative gradient (allowed tokens only);
3. B candidates, each the current suffix with one position swapped to one of its top-k tokens;
4. all B candidates scored in batched forward passes (``score_suffixes``), the best one kept.

The objective is the target's mean negative log-likelihood plus ``fluency`` x the prompt's log-
perplexity (the adaptive attack against a perplexity filter; ``fluency=0`` is plain GCG). Restarts
draw a fresh random suffix; the attack stops at the first success (``succeeded``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AttackProblem:
    """Token ids (1-D) of the fixed parts: ``prefix``, ``post`` (between suffix and answer),
    ``target`` (the answer to force)."""

    prefix: torch.Tensor
    post: torch.Tensor
    target: torch.Tensor

    def prompt(self, suffix: torch.Tensor) -> torch.Tensor:
        """(..., P + L + Q) prompt ids for suffixes (..., L)."""
        lead = suffix.shape[:-1]
        return torch.cat([self.prefix.expand(*lead, -1), suffix, self.post.expand(*lead, -1)], dim=-1)


def _objective(logits: torch.Tensor, ids: torch.Tensor, n_prompt: int, fluency: float
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) objective and (B,) target NLL from logits (B, N, V) of ids (B, N); the first
    ``n_prompt`` tokens are the prompt, the rest the target."""
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
    target_nll = -logp[:, n_prompt - 1:].mean(dim=1)
    prompt_nll = -logp[:, :n_prompt - 1].mean(dim=1)
    return target_nll + fluency * prompt_nll, target_nll


def token_gradients(model, problem: AttackProblem, suffix: torch.Tensor, fluency: float = 0.0
                    ) -> torch.Tensor:
    """d objective / d X for the one-hot suffix matrix X (L, V) at ``suffix`` (L,): (L, V)."""
    emb = model.get_input_embeddings().weight
    one_hot = F.one_hot(suffix, emb.shape[0]).to(emb.dtype).requires_grad_(True)
    parts = [model.get_input_embeddings()(problem.prefix), one_hot @ emb,
             model.get_input_embeddings()(torch.cat([problem.post, problem.target]))]
    ids = torch.cat([problem.prompt(suffix), problem.target])[None]
    logits = model(inputs_embeds=torch.cat(parts)[None]).logits
    objective, _ = _objective(logits, ids, ids.shape[1] - len(problem.target), fluency)
    (grad,) = torch.autograd.grad(objective.sum(), one_hot)
    return grad


@torch.no_grad()
def score_suffixes(model, problem: AttackProblem, suffixes: torch.Tensor, fluency: float = 0.0,
                   batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """(objective, target NLL), each (B,), of B candidate suffixes (B, L), scored in batched
    forward passes of up to ``batch_size`` candidates. Repeated suffixes are scored once (each
    row's score does not depend on the other rows of its batch) and their scores copied."""
    unique, inverse = torch.unique(suffixes, dim=0, return_inverse=True)
    obj, nll = _score_unique(model, problem, unique, fluency, batch_size)
    return obj[inverse], nll[inverse]


def _score_unique(model, problem: AttackProblem, suffixes: torch.Tensor, fluency: float, batch_size: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    out_obj, out_nll = [], []
    for chunk in suffixes.split(batch_size):
        prompts = problem.prompt(chunk)
        ids = torch.cat([prompts, problem.target.expand(len(chunk), -1)], dim=1)
        obj, nll = _objective(shared_prefix_logits(model, ids, len(problem.prefix)), ids, prompts.shape[1],
                              fluency)
        out_obj.append(obj)
        out_nll.append(nll)
    return torch.cat(out_obj), torch.cat(out_nll)


def shared_prefix_logits(model, ids: torch.Tensor, n_prefix: int) -> torch.Tensor:
    """Logits (B, N, V) of ids (B, N) whose first ``n_prefix`` tokens are the same in every row,
    with the shared prefix run once: the first row goes through the model whole (same length N as
    the batch, so its prefix keys and values are those of a batched pass), then the other positions
    of every row go through with those keys and values cached. The logits of ``model(ids)``
    (bit for bit on the cpu preset's tiny GPT-2 at one thread) without the batch's repeated prefix
    work. Unpadded ids only (no attention mask)."""
    if n_prefix < 1 or len(ids) < 2 or n_prefix >= ids.shape[1]:
        return model(input_ids=ids).logits
    first = model(input_ids=ids[:1], use_cache=True)
    cache = first.cache
    cache.crop(n_prefix - ids.shape[1])            # keep the prefix's keys and values only
    cache.batch_repeat_interleave(len(ids))
    rest = model(input_ids=ids[:, n_prefix:], cache=cache).logits
    return torch.cat([first.logits[:, :n_prefix].expand(len(ids), -1, -1), rest], dim=1)


def sample_candidates(suffix: torch.Tensor, grad: torch.Tensor, allowed: torch.Tensor, *, top_k: int,
                      n_candidates: int, generator: torch.Generator) -> torch.Tensor:
    """(B, L) single-token swaps of ``suffix`` (L,): a position uniformly at random, a token among
    that position's top-k of -grad restricted to the ``allowed`` (V,) bool mask."""
    scores = (-grad).masked_fill(~allowed.to(grad.device), float("-inf"))
    top = scores.topk(min(top_k, int(allowed.sum())), dim=1).indices.cpu()           # (L, k)
    pos = torch.randint(len(suffix), (n_candidates,), generator=generator)
    pick = torch.randint(top.shape[1], (n_candidates,), generator=generator)
    cands = suffix.cpu().repeat(n_candidates, 1)
    cands[torch.arange(n_candidates), pos] = top[pos, pick]
    return cands.to(suffix.device)


def retokenizes(tokenizer, suffixes: torch.Tensor) -> torch.Tensor:
    """(B,) bool: does decoding each suffix and encoding the text again give the same ids?
    (Each distinct suffix is decoded and encoded once.)"""
    rows = [tuple(r) for r in suffixes.tolist()]
    distinct = list(dict.fromkeys(rows))
    texts = tokenizer.batch_decode([list(r) for r in distinct])
    again = tokenizer(texts, add_special_tokens=False)["input_ids"]
    same = {r: list(r) == a for r, a in zip(distinct, again)}
    return torch.tensor([same[r] for r in rows], dtype=torch.bool, device=suffixes.device)


@dataclass
class AttackResult:
    """The best suffix found and how the search went (``losses``: best objective after each step)."""

    suffix: torch.Tensor
    success: bool
    best_loss: float
    steps: int
    restarts: int
    candidates_scored: int
    seconds: float
    losses: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class GCGSettings:
    """Budget: ``steps`` per restart, ``restarts`` fresh suffixes at most, ``n_candidates`` swaps
    per step among ``top_k`` tokens per position; success checked every ``check_every`` steps."""

    suffix_len: int = 8
    steps: int = 40
    restarts: int = 3
    top_k: int = 32
    n_candidates: int = 256
    batch_size: int = 512
    check_every: int = 5
    fluency: float = 0.0


def gcg_attack(model, tokenizer, problem: AttackProblem, allowed: torch.Tensor,
               succeeded: Callable[[torch.Tensor], bool], settings: GCGSettings,
               generator: torch.Generator, init: torch.Tensor | None = None) -> AttackResult:
    """Search a suffix making ``succeeded(suffix)`` true (e.g. greedy output says purple). The first
    restart starts from ``init`` (``suffix_len`` ids) when given, the others from random allowed
    tokens. The best objective over the whole run never increases; stops at the first success."""
    t0, best, best_loss, losses, scored = time.perf_counter(), None, float("inf"), [], 0
    allowed_ids = allowed.nonzero()[:, 0]
    device = problem.prefix.device
    for restart in range(settings.restarts):
        pick = torch.randint(len(allowed_ids), (settings.suffix_len,), generator=generator)
        current = allowed_ids[pick].to(device) if init is None or restart > 0 else init.to(device)
        for step in range(1, settings.steps + 1):
            grad = token_gradients(model, problem, current, settings.fluency)
            cands = sample_candidates(current, grad, allowed, top_k=settings.top_k,
                                      n_candidates=settings.n_candidates, generator=generator)
            cands = cands[retokenizes(tokenizer, cands)]
            objective, _ = score_suffixes(model, problem, cands, settings.fluency, settings.batch_size)
            scored += len(cands)
            i = int(objective.argmin())
            current = cands[i]
            if float(objective[i]) < best_loss:
                best, best_loss = current.clone(), float(objective[i])
            losses.append(best_loss)
            if step % settings.check_every == 0 or step == settings.steps:
                if succeeded(current):
                    return AttackResult(current, True, best_loss, len(losses), restart + 1, scored,
                                        time.perf_counter() - t0, losses)
    return AttackResult(best, bool(succeeded(best)), best_loss, len(losses), settings.restarts, scored,
                        time.perf_counter() - t0, losses)
