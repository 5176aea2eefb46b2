"""Evaluate template embeddings of a causal LM with the ``mteb`` package (tested with mteb 2.26).

``TemplateEncoder`` is an mteb encoder: for each input it renders the ``query`` template (queries,
and both sides of symmetric tasks such as STS, as in the official echo-embeddings README) or the
``document`` template, fills ``%%prompt%%`` with a task instruction, and pools with ``embed``.
``local_sts_task`` / ``local_retrieval_task`` build mteb tasks from in-memory data, so the whole
mteb pipeline (its dataloaders, similarity functions, pytrec_eval scoring) runs offline; the
paper preset passes real MTEB tasks from ``mteb.get_tasks`` instead.

Importing this module imports mteb (a few seconds): import it only where it is used.
"""

from __future__ import annotations

from collections.abc import Sequence

import datasets
import mteb
import numpy as np
import torch
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.abstasks.sts import AbsTaskSTS
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.models.abs_encoder import AbsEncoder
from mteb.models.model_meta import ModelMeta

from robustbook._checks import check_int
from robustbook.embeddings.extract import embed
from robustbook.embeddings.pooling import check_poolings
from robustbook.embeddings.templates import parse_template

# Task instructions for %%prompt%% (our wording, in the style of the E5 instructions the paper uses).
DEFAULT_INSTRUCTIONS = {
    "STS": "Retrieve semantically similar text",
    "Retrieval": "Given a query, retrieve relevant passages",
    "Classification": "Classify the given text",
    "Clustering": "Identify the topic of the given text",
}
_LOCAL = dict(description="In-memory task built by robustbook (no download).",
              reference="https://arxiv.org/abs/2402.15449", dataset={"path": "robustbook/local", "revision": "0"},
              category="t2t", eval_splits=["test"], eval_langs=["eng-Latn"], date=("2024-01-01", "2024-01-01"),
              dialect=[], domains=[], task_subtypes=[], license="cc-by-4.0", annotations_creators="derived",
              modalities=["text"], sample_creation="created", bibtex_citation="")


class TemplateEncoder(AbsEncoder):
    """An mteb encoder from a causal LM, a tokenizer and ``templates`` {"query": ..., "document": ...}."""

    def __init__(self, model: torch.nn.Module, tokenizer, templates: dict[str, str], *, name: str,
                 pooling: str = "mean", batch_size: int = 32, max_tokens: int | None = None,
                 instructions: dict[str, str] | None = None) -> None:
        missing = [kind for kind in ("query", "document") if kind not in templates]
        if missing:
            raise ValueError(f"templates must have 'query' and 'document' entries, missing {missing}")
        for kind in ("query", "document"):
            if isinstance(templates[kind], str):
                parse_template(templates[kind])  # a template that pools nothing fails here, not mid-run
        check_poolings((pooling,))
        check_int("batch_size", batch_size)
        if max_tokens is not None:
            check_int("max_tokens", max_tokens)
        self.model, self.tokenizer, self.templates = model, tokenizer, dict(templates)
        self.pooling, self.batch_size, self.max_tokens = pooling, batch_size, max_tokens
        self.instructions = {**DEFAULT_INSTRUCTIONS, **(instructions or {})}
        dim = getattr(model.config, "hidden_size", None) or getattr(model.config, "n_embd", None)
        self.mteb_model_meta = ModelMeta(
            loader=None, name=name, revision="local", release_date=None, languages=None,
            n_parameters=sum(p.numel() for p in model.parameters()), memory_usage_mb=None,
            max_tokens=max_tokens, embed_dim=dim, license=None, open_weights=True,
            public_training_code=None, public_training_data=None, framework=["PyTorch"],
            similarity_fn_name="cosine", use_instructions=True, training_datasets=None)

    def instruction(self, task_metadata: TaskMetadata) -> str:
        return self.instructions.get(task_metadata.name) or self.instructions.get(task_metadata.type, "")

    def encode(self, inputs, *, task_metadata: TaskMetadata, hf_split: str, hf_subset: str,
               prompt_type=None, **kwargs) -> np.ndarray:
        """(N, d) embeddings of every text in the dataloader ``inputs``."""
        kind = "document" if prompt_type is not None and prompt_type.value == "document" else "query"
        prompt = self.instruction(task_metadata)
        rows = [{"text": text, "prompt": prompt} for batch in inputs for text in batch["text"]]
        return embed(self.model, self.tokenizer, self.templates[kind], rows, self.pooling,
                     batch_size=self.batch_size, max_tokens=self.max_tokens).numpy()


def local_sts_task(name: str, first: Sequence[str], second: Sequence[str], scores: Sequence[float],
                   min_score: float = 0.0, max_score: float = 1.0) -> AbsTaskSTS:
    """An mteb STS task over in-memory sentence pairs (main score: cosine Spearman)."""
    if not len(first) == len(second) == len(scores) or len(first) < 2:
        raise ValueError(f"first, second and scores need one entry per pair and at least 2 pairs, got "
                         f"{len(first)}, {len(second)}, {len(scores)}")
    if not min_score < max_score:
        raise ValueError(f"need min_score < max_score, got {min_score}, {max_score}")
    def load_data(self, num_proc: int | None = None, **kwargs) -> None:
        data = {"sentence1": list(first), "sentence2": list(second), "score": [float(s) for s in scores]}
        self.dataset = datasets.DatasetDict({"test": datasets.Dataset.from_dict(data)})
        self.data_loaded = True

    meta = TaskMetadata(type="STS", name=name, main_score="cosine_spearman", **_LOCAL)
    cls = type(name, (AbsTaskSTS,), {"metadata": meta, "load_data": load_data,
                                     "min_score": min_score, "max_score": max_score})
    return cls()


def local_retrieval_task(name: str, queries: Sequence[str], corpus: Sequence[str],
                         relevance: np.ndarray) -> AbsTaskRetrieval:
    """An mteb retrieval task: ``relevance`` (Q, D) marks relevant documents (main score nDCG@10)."""
    if np.shape(relevance) != (len(queries), len(corpus)):
        raise ValueError(f"relevance must be (Q, D) = ({len(queries)}, {len(corpus)}) for the queries and "
                         f"corpus given, got shape {np.shape(relevance)}")
    def load_data(self, num_proc: int | None = None, **kwargs) -> None:
        split = RetrievalSplitData(
            queries=datasets.Dataset.from_list([{"id": f"q{i}", "text": t} for i, t in enumerate(queries)]),
            corpus=datasets.Dataset.from_list([{"id": f"d{j}", "text": t, "title": ""}
                                               for j, t in enumerate(corpus)]),
            relevant_docs={f"q{i}": {f"d{j}": 1 for j in np.flatnonzero(row)}
                           for i, row in enumerate(np.asarray(relevance))},
            top_ranked=None)
        self.dataset = {"default": {"test": split}}
        self.data_loaded = True

    meta = TaskMetadata(type="Retrieval", name=name, main_score="ndcg_at_10", **_LOCAL)
    return type(name, (AbsTaskRetrieval,), {"metadata": meta, "load_data": load_data})()


def mteb_tasks(names: Sequence[str]) -> list:
    """Real MTEB tasks by name (their data come from the Hugging Face hub or its local cache)."""
    return list(mteb.get_tasks(tasks=list(names)))


def evaluate(encoder: TemplateEncoder, tasks: Sequence) -> dict[str, dict]:
    """Run mteb on ``tasks`` (no result cache); ``{task name: {"main_score", "scores"}}`` where
    ``scores`` is mteb's score dict of the first test subset."""
    datasets.disable_progress_bars()
    result = mteb.evaluate(encoder, list(tasks), cache=None, show_progress_bar=False)
    out = {}
    for task_result in result.task_results:
        split = "test" if "test" in task_result.scores else next(iter(task_result.scores))
        out[task_result.task_name] = {"main_score": float(task_result.get_score()),
                                      "scores": task_result.scores[split][0]}
    return out
