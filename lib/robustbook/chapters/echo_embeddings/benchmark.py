"""Chapter 05's MTEB side: the same tiny-LM embeddings scored through the ``mteb`` package on
in-memory copies of the synthetic STS and retrieval tasks (a check that our plumbing and mteb's
agree), and, at preset ``paper``, a pretrained causal LM on real MTEB tasks.

mteb is imported inside the functions: importing it takes seconds.
"""

from __future__ import annotations

from pathlib import Path

import torch

from robustbook.chapters.echo_embeddings.experiments import TINY_TEMPLATES, EvalSets
from robustbook.embeddings.loading import resolve_model_path
from robustbook.embeddings.templates import PAPER_TEMPLATES, ZERO_SHOT_TEMPLATES

MTEB_TEMPLATE_KINDS = ("zero-shot", "instruction")
STS_TASK, RETRIEVAL_TASK = "SyntheticConceptSTS", "SyntheticConceptRetrieval"


def local_tasks(sets: EvalSets) -> list:
    """The seed's synthetic STS pairs and retrieval corpus as mteb tasks (no download)."""
    from robustbook.embeddings import mteb_eval

    first, second, gold = sets.sts
    queries, corpus, relevance = sets.retrieval
    return [mteb_eval.local_sts_task(STS_TASK, [s.text for s in first], [s.text for s in second], gold),
            mteb_eval.local_retrieval_task(RETRIEVAL_TASK, [q.text for q in queries],
                                           [d.text for d in corpus], relevance)]


def mteb_check(model: torch.nn.Module, tokenizer, sets: EvalSets) -> dict[str, dict[str, float]]:
    """mteb's main scores of the tiny LM's whole-sentence embeddings (mean pooling):
    ``{strategy: {"sts_spearman": ..., "retrieval_ndcg10": ...}}``, for comparison with our own
    metrics on the same data."""
    from robustbook.embeddings import mteb_eval

    out = {}
    for strategy in ("classical", "echo"):
        template = TINY_TEMPLATES[(strategy, "whole")]
        encoder = mteb_eval.TemplateEncoder(model, tokenizer, {"query": template, "document": template},
                                            name=f"robustbook/tiny-gpt2-{strategy}", pooling="mean",
                                            batch_size=256)
        scores = mteb_eval.evaluate(encoder, local_tasks(sets))
        out[strategy] = {"sts_spearman": scores[STS_TASK]["main_score"],
                         "retrieval_ndcg10": scores[RETRIEVAL_TASK]["main_score"]}
    return out


def check_paper_inputs(model_name: str, data_dir: str | None, task_names: list[str]) -> tuple[Path, list]:
    """Fail before any work when the paper preset's model is not on disk or a task name is
    unknown to mteb. Returns (model folder, mteb task objects)."""
    path = resolve_model_path(model_name, data_dir)
    from robustbook.embeddings import mteb_eval

    try:
        tasks = mteb_eval.mteb_tasks(task_names)
    except Exception as e:  # noqa: BLE001 - mteb raises several types for unknown names
        raise ValueError(f"mteb_tasks: {e}") from e
    return path, tasks


def mteb_templates(kind: str, strategy: str) -> dict[str, str]:
    """The paper's templates for mteb: ``zero-shot`` (one prompt for queries and documents) or
    ``instruction`` (the query template with the task's instruction in ``%%prompt%%`` and the
    document template, the paper's fine-tuned evaluation)."""
    if kind == "zero-shot":
        return {"query": ZERO_SHOT_TEMPLATES[strategy], "document": ZERO_SHOT_TEMPLATES[strategy]}
    if kind == "instruction":
        return dict(PAPER_TEMPLATES[strategy])
    raise ValueError(f"mteb_templates must be one of {MTEB_TEMPLATE_KINDS}, got {kind!r}")


def paper_mteb(model: torch.nn.Module, tokenizer, tasks: list, model_name: str, max_tokens: int,
               batch_size: int = 16, pooling: str = "mean", templates: str = "zero-shot") -> list[dict]:
    """Classical vs echo embeddings of a pretrained LM on real MTEB tasks with the paper's
    ``templates`` (see ``mteb_templates``); one row per (task, strategy) with mteb's main score.
    Dataset download, if any, is mteb's (hub cache)."""
    from robustbook.embeddings import mteb_eval

    rows = []
    for strategy in ("classical", "echo"):
        encoder = mteb_eval.TemplateEncoder(model, tokenizer, mteb_templates(templates, strategy),
                                            name=f"{model_name}-{strategy}", pooling=pooling,
                                            batch_size=batch_size, max_tokens=max_tokens)
        for task, result in mteb_eval.evaluate(encoder, tasks).items():
            rows.append({"task": task, "strategy": strategy, "pooling": pooling, "templates": templates,
                         "score": result["main_score"]})
    return rows
