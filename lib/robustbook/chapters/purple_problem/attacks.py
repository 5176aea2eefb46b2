"""Chapter 04's attack step: GCG and the perplexity-adaptive GCG on held-out purple questions."""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from robustbook.book.chapter import derive_seed, generator
from robustbook.chapters.purple_problem.config import Settings
from robustbook.chapters.purple_problem.experiments import Subject, _judge, _log_ppl, allowed_tokens
from robustbook.jailbreak.chat import attack_problem, encode, reply_ids
from robustbook.jailbreak.filters import output_flagged
from robustbook.jailbreak.gcg import GCGSettings, gcg_attack


def gcg_settings(s: Settings, adaptive: bool) -> GCGSettings:
    """The attack's budget: plain GCG, or one restart of fluency-weighted GCG (adaptive)."""
    if adaptive:
        return GCGSettings(suffix_len=s.adaptive_suffix_len, steps=s.adaptive_steps, restarts=1,
                           top_k=s.top_k, n_candidates=s.n_candidates, fluency=s.fluency)
    return GCGSettings(suffix_len=s.suffix_len, steps=s.gcg_steps, restarts=s.gcg_restarts, top_k=s.top_k,
                       n_candidates=s.n_candidates)


def attack_prompts(subject: Subject, n: int, seed: int) -> list[int]:
    """Indices of the ``n`` held-out questions attacked for this seed (a fixed random choice)."""
    rng = np.random.default_rng(derive_seed(seed, "attack-prompts"))
    return sorted(rng.choice(len(subject.heldout), min(n, len(subject.heldout)), replace=False).tolist())


def _success_fn(subject: Subject, s: Settings, problem, threshold: float | None):
    """Success: the greedy reply says purple (and, for the adaptive attack, the prompt passes the
    perplexity filter)."""
    tok, model = subject.tokenizer, subject.model

    def succeeded(suffix) -> bool:
        prompt = problem.prompt(suffix)
        reply = tok.decode(reply_ids(model, tok, [prompt], s.max_new_tokens)[0], skip_special_tokens=True)
        if not output_flagged(reply):
            return False
        return threshold is None or float(_log_ppl(subject, [tok.decode(prompt.tolist())])[0]) <= threshold
    return succeeded


def run_attack(subject: Subject, s: Settings, seed: int, threshold: float, adaptive: bool,
               progress: bool = False) -> tuple[list[dict], list[dict]]:
    """Attack rows (one per prompt: suffix, reply, verdicts, budget used) and loss-curve rows."""
    name = "adaptive" if adaptive else "gcg"
    tok, device = subject.tokenizer, next(subject.model.parameters()).device
    allowed = allowed_tokens(tok, subject.model.get_input_embeddings().weight.shape[0]).to(device)
    n = s.adaptive_prompts if adaptive else s.n_attack_prompts
    rows, curves = [], []
    for i in _progress(attack_prompts(subject, n, seed), progress, f"{name}, seed {seed}"):
        before, after = subject.render(subject.heldout[i])
        problem = attack_problem(tok, before, after, s.target, device)
        init = None
        if adaptive and subject.fluent_init:
            init = encode(tok, subject.fluent_init, device)[:s.adaptive_suffix_len]
            init = init if len(init) == s.adaptive_suffix_len else None
        result = gcg_attack(subject.model, tok, problem, allowed,
                            _success_fn(subject, s, problem, threshold if adaptive else None),
                            gcg_settings(s, adaptive), generator(seed, f"gcg-{name}", i), init=init)
        suffix = tok.decode(result.suffix.tolist())
        judged = _judge(subject, s, subject.heldout[i], suffix, threshold)
        rows.append({"seed": seed, "attack": name, "prompt": i, **judged, "attack_success": result.success,
                     "steps": result.steps, "restarts": result.restarts, "best_loss": result.best_loss,
                     "candidates": result.candidates_scored, "seconds": result.seconds})
        curves += [{"seed": seed, "attack": name, "prompt": i, "step": k + 1, "best_loss": v}
                   for k, v in enumerate(result.losses)]
    return rows, curves


def _progress(items, progress: bool, desc: str):
    return tqdm(items, desc=desc, disable=not progress, leave=False)

