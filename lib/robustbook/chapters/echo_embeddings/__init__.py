"""Chapter 05 · Repetition improves language model embeddings (Springer et al., 2024).

Glue only: ``Config`` -> ``run`` -> ``Result`` (judged in ``claims``), tables in ``tables``,
figures and the explorer in ``plots``. Templates, span bookkeeping, batching, pooling and metrics
live in ``robustbook.embeddings``; the synthetic language in ``robustbook.data.synthetic_language``;
the tiny GPT-2 in ``robustbook.models.tiny_lm``; mteb plumbing in ``robustbook.embeddings.mteb_eval``.
"""

from __future__ import annotations

import pandas as pd
import torch

from robustbook.book.chapter import RunContext, finish, start
from robustbook.chapters.echo_embeddings import benchmark, experiments
from robustbook.chapters.echo_embeddings.claims import EXPECTED, PAPER_EXPECTED, judge_claims, metrics_from
from robustbook.chapters.echo_embeddings.config import PRESETS, Config, Settings
from robustbook.chapters.echo_embeddings.result import Result
from robustbook.embeddings.bidirectional import load_minilm
from robustbook.embeddings.loading import load_causal_lm

SLUG = "echo-embeddings"
__all__ = ["EXPECTED", "PAPER_EXPECTED", "PRESETS", "SLUG", "Config", "Result", "Settings", "run"]


def _causal_lm(s: Settings, seed: int, device: torch.device, pretrained: tuple, progress: bool):
    """(model, tokenizer, templates, final loss or None) for reported ``seed``."""
    if not s.train_lm:
        return (*pretrained, experiments.PRETRAINED_TEMPLATES, None)
    model, tokenizer, loss = experiments.train_tiny_lm(
        s.n_train, s.epochs, s.lr, s.batch_size, s.repeat_fraction, s.n_layer, s.n_embd, seed, device,
        progress=f"tiny GPT-2, seed {seed}" if progress else False)
    return model, tokenizer, experiments.TINY_TEMPLATES, loss


def _score_seeds(ctx: RunContext, pretrained: tuple, minilm: tuple) -> Result:
    """Train (or load) the causal LM per reported seed and score every task; MiniLM (not trained)
    on the first seed's sentences only."""
    s = ctx.settings
    lm_name = experiments.TINY_LM if s.train_lm else s.model_name
    scores, diagnostics, losses, cause, tuned, first = [], [], [], [], [], None
    for seed in s.seeds:
        model, tokenizer, templates, loss = _causal_lm(s, seed, ctx.device, pretrained, ctx.progress)
        sets = experiments.eval_sets(s.n_eval, seed)
        embedder = experiments.lm_embedder(model, tokenizer, templates, max_tokens=s.max_tokens)
        rows, diag = experiments.score_sets(embedder, sets)
        scores.append(experiments.frame(rows, seed=seed, model=lm_name))
        diagnostics.append(experiments.frame(diag, seed=seed))
        if minilm and seed == s.seed:
            ref_rows, _ = experiments.score_sets(experiments.minilm_embedder(*minilm), sets)
            scores.append(experiments.frame(ref_rows, seed=seed, model=experiments.MINILM))
        if loss is not None:
            losses.append(loss)
            cause.append(experiments.frame(experiments.whole_sentence_diagnosis(model, tokenizer, sets.hard),
                                           seed=seed))
            if seed < s.seed + s.ft_seeds:  # fine-tunes copies: the model above stays as trained
                tuned.append(experiments.frame(experiments.finetune_curves(
                    model, tokenizer, sets, seed, experiments.ft_checkpoints(s.ft_steps), s.ft_lr,
                    experiments.FT_TEMPERATURE), seed=seed))
        first = first or (model, tokenizer, embedder, sets)
    model, tokenizer, embedder, sets = first
    similarity = {lm_name: experiments.similarity_structure(embedder, s.seed)}
    if minilm:
        similarity[experiments.MINILM] = experiments.similarity_structure(
            experiments.minilm_embedder(*minilm), s.seed)
    result = Result(settings=s, lm_name=lm_name, scores=pd.concat(scores, ignore_index=True),
                    diagnostics=pd.concat(diagnostics, ignore_index=True), train_loss=losses,
                    similarity=similarity, lm=(model, tokenizer), minilm=minilm,
                    cause=pd.concat(cause, ignore_index=True) if cause else None,
                    finetune=pd.concat(tuned, ignore_index=True) if tuned else None)
    if s.mteb_check and s.train_lm:
        result.mteb_check = _mteb_check(result, sets)
    return result


def _mteb_check(result: Result, sets: experiments.EvalSets) -> dict:
    """The first seed's STS and retrieval scores from mteb next to ours (mean pooling)."""
    scores = result.scores
    first = scores[(scores["seed"] == result.settings.seed) & (scores["model"] == result.lm_name)
                   & (scores["pooling"] == "mean")]
    ours = {st: dict(zip(g["task"], g["score"])) for st, g in first.groupby("strategy")}
    mteb_scores = benchmark.mteb_check(*result.lm, sets)
    return {"mteb": mteb_scores, "ours": {st: {t: ours[st][t] for t in mteb_scores[st]} for st in mteb_scores}}


def run(config: Config, progress: bool | None = None) -> Result:
    """Run the chapter at ``config``'s preset and judge the claims. ``progress`` (default: on,
    except when the book is being built) shows tqdm bars while the tiny LMs train."""
    ctx = start(config, progress)
    s: Settings = ctx.settings
    pretrained, tasks = (), []
    if s.preset == "paper":  # fail on a missing model or unknown task before any work
        path, tasks = benchmark.check_paper_inputs(s.model_name, s.data_dir, s.mteb_task_names)
        pretrained = load_causal_lm(path, ctx.device)
    result = _score_seeds(ctx, pretrained, load_minilm() if s.minilm else ())
    if s.preset == "paper":
        result.paper_mteb = pd.DataFrame(benchmark.paper_mteb(*result.lm, tasks, s.model_name, s.max_tokens,
                                                                templates=s.mteb_templates))
    return finish(ctx, result, metrics_from, judge_claims)
