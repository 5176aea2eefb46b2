"""Chapter 05's synthetic experiments: train a tiny causal LM, embed the synthetic tasks with
classical and echo templates (mean and last-token pooling), score them; the bidirectional
all-MiniLM-L6-v2 as a reference on the very same sentences.

Tasks (``robustbook.data.synthetic_language``), per seed:
* ``late_triplet``  early-span embeddings; positive and negative share the anchor's early words
  and differ only late: a causal model's classical embedding must tie (score 1/2).
* ``concept_probe`` early-span embeddings -> the late concept (8 classes, chance 1/8), linear probe.
* ``hard_triplet``  whole-sentence embeddings; the negative shares the anchor's early words.
* ``sts_spearman``  whole-sentence STS, gold = same concept (Spearman of cosine).
* ``retrieval_ndcg10`` whole-sentence retrieval, relevant = same concept (nDCG@10).

Seeds: everything random under one reported seed takes a named stream of ``derive_seed``
("lm-data", "lm-init", "lm-order", "eval", "similarity"), so a seed's numbers do not depend on
which other seeds ran before it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from robustbook.book.chapter import derive_seed, generator
from robustbook.data.synthetic_language import Sentence, SyntheticLanguage
from robustbook.embeddings import copy_accuracy, embed_variants, metrics, spread
from robustbook.embeddings.bidirectional import span_embeddings
from robustbook.embeddings.finetune import contrastive_finetune
from robustbook.embeddings.templates import ZERO_SHOT_TEMPLATES
from robustbook.models.tiny_lm import tiny_gpt2, train_causal_lm, word_tokenizer

# Tiny LM templates in the paper's syntax: the tiny LM was trained on "<s> x </s>" and
# "<s> x <sep> x </s>", so "<sep>" plays the part of "\nDocument again:".
TINY_TEMPLATES = {
    ("classical", "whole"): "<s>{%%text%%}{</s>}",
    ("echo", "whole"): "<s>{!%%text%%}<sep>{%%text%%}{</s>}",
    ("classical", "early"): "<s>{%%early%%}{!%%late%%}</s>",
    ("echo", "early"): "<s>{!%%text%%}<sep>{%%early%%}{!%%late%%}</s>",
}
# Whole sentences pooled over one part only (the diagnosis of echo's whole-sentence result): the
# early words or the late words, of the only occurrence (classical) or of the second one (echo).
SPAN_TEMPLATES = {
    ("classical", "early words"): "<s>{%%early%%}{!%%late%%}</s>",
    ("classical", "late words"): "<s>{!%%early%%}{%%late%%}</s>",
    ("echo", "early words"): "<s>{!%%text%%}<sep>{%%early%%}{!%%late%%}</s>",
    ("echo", "late words"): "<s>{!%%text%%}<sep>{!%%early%%}{%%late%%}</s>",
}
# A pretrained LM (paper preset): the paper's zero-shot prompts (echo confirmed by the authors;
# the classical wording is ours), pooled over the same spans.
PRETRAINED_TEMPLATES = {
    ("classical", "whole"): ZERO_SHOT_TEMPLATES["classical"],
    ("echo", "whole"): ZERO_SHOT_TEMPLATES["echo"],
    ("classical", "early"): "<s>Write the following paragraph:{%%early%%}{! %%late%%}",
    ("echo", "early"): ("<s>Rewrite the following paragraph:{!%%text%%}\nThe rewritten paragraph:"
                        "{%%early%%}{! %%late%%}"),
}
POOLINGS = ("mean", "last")
TASKS = ("late_triplet", "concept_probe", "hard_triplet", "sts_spearman", "retrieval_ndcg10")
EARLY_TASKS = ("late_triplet", "concept_probe")
LANGUAGE = SyntheticLanguage()
TINY_LM, MINILM = "tiny GPT-2", "all-MiniLM-L6-v2"

# An embedder maps sentences and a span ("early" | "whole") to {(strategy, pooling): (N, d)}.
Embedder = Callable[[list[Sentence], str], dict[tuple[str, str], torch.Tensor]]


@dataclass
class EvalSets:
    """One seed's evaluation data (fresh sentences, never seen in training)."""

    late: list[tuple[Sentence, ...]]
    hard: list[tuple[Sentence, ...]]
    probe_train: list[Sentence]
    probe_test: list[Sentence]
    sts: tuple[list[Sentence], list[Sentence], list[float]]
    retrieval: tuple[list[Sentence], list[Sentence], np.ndarray]


def eval_sets(n_eval: int, seed: int, lang: SyntheticLanguage = LANGUAGE) -> EvalSets:
    """Fresh evaluation sentences of reported ``seed`` (stream "eval", apart from training's)."""
    rng = np.random.default_rng(derive_seed(seed, "eval"))
    return EvalSets(late=lang.late_triplets(n_eval, rng), hard=lang.hard_triplets(n_eval, rng),
                    probe_train=lang.sample(2 * n_eval, rng), probe_test=lang.sample(n_eval, rng),
                    sts=lang.sts_pairs(n_eval, rng),
                    retrieval=lang.retrieval_task(max(n_eval // 3, 10), n_eval, rng))


def train_tiny_lm(n_train: int, epochs: int, lr: float, batch_size: int, repeat_fraction: float,
                  n_layer: int, n_embd: int, seed: int, device: torch.device,
                  progress: bool | str = False, lang: SyntheticLanguage = LANGUAGE):
    """(model, tokenizer, final training loss) of a tiny GPT-2 trained on the synthetic language.
    Reported ``seed`` -> streams "lm-data" (training texts), "lm-init" (weights), "lm-order" (batches)."""
    tokenizer = word_tokenizer(lang.vocabulary())
    texts = lang.training_texts(n_train, np.random.default_rng(derive_seed(seed, "lm-data")), repeat_fraction)
    ids = torch.tensor(tokenizer(texts, padding=True, add_special_tokens=False)["input_ids"])
    model = tiny_gpt2(len(tokenizer), n_layer=n_layer, n_embd=n_embd,
                      seed=derive_seed(seed, "lm-init")).to(device)
    history = train_causal_lm(model, ids, pad_id=tokenizer.pad_token_id, epochs=epochs,
                              batch_size=batch_size, lr=lr, generator=generator(seed, "lm-order"),
                              progress=progress)
    return model, tokenizer, history.train_loss[-1]


def lm_embedder(model: torch.nn.Module, tokenizer, templates: dict = TINY_TEMPLATES,
                batch_size: int = 256, max_tokens: int | None = None) -> Embedder:
    """Classical and echo embeddings of a causal LM with ``templates`` {(strategy, span): str}."""
    def run(sentences: list[Sentence], span: str) -> dict[tuple[str, str], torch.Tensor]:
        chosen = {strategy: t for (strategy, sp), t in templates.items() if sp == span}
        return embed_variants(model, tokenizer, chosen, [s.fields() for s in sentences], POOLINGS,
                              batch_size=batch_size, max_tokens=max_tokens)
    return run


def minilm_embedder(model: torch.nn.Module, tokenizer, lang: SyntheticLanguage = LANGUAGE) -> Embedder:
    """all-MiniLM-L6-v2 pooled over the early words' pieces, or over all tokens (its own
    sentence embedding) for the whole sentence. Strategy name: "bidirectional"."""
    def run(sentences: list[Sentence], span: str) -> dict[tuple[str, str], torch.Tensor]:
        spans = {"bidirectional": (0, lang.early_len) if span == "early" else None}
        return span_embeddings(model, tokenizer, [s.early + s.late for s in sentences], spans, POOLINGS)
    return run


def _split(emb: dict, sizes: list[int]) -> list[dict]:
    bounds = np.cumsum([0, *sizes])
    return [{k: v[a:b] for k, v in emb.items()} for a, b in zip(bounds[:-1], bounds[1:])]


def score_sets(embedder: Embedder, sets: EvalSets) -> tuple[list[dict], list[dict]]:
    """Score every task for every (strategy, pooling) the embedder returns.
    Returns (rows: task, strategy, pooling, score) and (late-triplet diagnostics: tie fraction,
    max |cos(q, s+) - cos(q, s-)|)."""
    late = [list(x) for x in zip(*sets.late)]
    hard = [list(x) for x in zip(*sets.hard)]
    (q, corpus, relevance), (first, second, gold) = sets.retrieval, sets.sts
    early_groups = [*late, sets.probe_train, sets.probe_test]
    whole_groups = [*hard, first, second, q, corpus]
    early = _split(embedder(sum(early_groups, []), "early"), [len(g) for g in early_groups])
    whole = _split(embedder(sum(whole_groups, []), "whole"), [len(g) for g in whole_groups])
    y_train = [s.concept for s in sets.probe_train]
    y_test = [s.concept for s in sets.probe_test]
    rows, diagnostics = [], []
    for key in early[0]:
        a, p, n, tr, te = (e[key] for e in early)
        ha, hp, hn, s1, s2, qe, de = (w[key] for w in whole)
        scores = {"late_triplet": metrics.triplet_accuracy(a, p, n),
                  "concept_probe": metrics.probe_accuracy(tr, y_train, te, y_test),
                  "hard_triplet": metrics.triplet_accuracy(ha, hp, hn),
                  "sts_spearman": metrics.sts_spearman(s1, s2, gold),
                  "retrieval_ndcg10": metrics.retrieval_scores(qe, de, relevance)["ndcg_at_10"]}
        rows += [{"task": t, "strategy": key[0], "pooling": key[1], "score": v} for t, v in scores.items()]
        diagnostics.append({"strategy": key[0], "pooling": key[1],
                            "tie_fraction": metrics.tie_fraction(a, p, n),
                            "max_abs_margin": float(metrics.triplet_margins(a, p, n).abs().max())})
    return rows, diagnostics


def whole_sentence_diagnosis(model: torch.nn.Module, tokenizer, hard: list[tuple[Sentence, ...]],
                             batch_size: int = 256) -> list[dict]:
    """Where a tiny LM's whole-sentence embeddings get their hard-triplet verdict (mean pooling):
    the hard-triplet accuracy pooled over the early words or the late words only, the spread of
    each part across sentences, and how exactly the LM copies the second occurrence. Rows:
    strategy, measure ("accuracy: early words" | "accuracy: late words" | "spread: early / late"
    | "copy accuracy"), value. The templates use the tiny LM's ``<sep>``."""
    groups = [list(x) for x in zip(*hard)]
    n = len(groups[0])
    fields = [s.fields() for s in sum(groups, [])]
    rows = []
    for strategy in ("classical", "echo"):
        chosen = {span: SPAN_TEMPLATES[(strategy, span)] for span in ("early words", "late words")}
        emb = {span: v for (span, _), v in embed_variants(model, tokenizer, chosen, fields, ("mean",),
                                                          batch_size=batch_size).items()}
        for span, v in emb.items():
            rows.append({"strategy": strategy, "measure": f"accuracy: {span}",
                         "value": metrics.triplet_accuracy(v[:n], v[n:2 * n], v[2 * n:])})
        ratio = spread(emb["early words"][:n]) / spread(emb["late words"][:n])
        rows.append({"strategy": strategy, "measure": "spread: early / late", "value": ratio})
    texts = [f"<s> {s.text} <sep> {s.text} </s>" for s in groups[0]]
    ids = torch.tensor(tokenizer(texts, padding=True, add_special_tokens=False)["input_ids"])
    device = next(model.parameters()).device
    copied = copy_accuracy(model, ids.to(device), first=1, length=len(groups[0][0].text.split()))
    rows.append({"strategy": "echo", "measure": "copy accuracy", "value": copied})
    return rows


FT_TEMPERATURE = 0.05  # InfoNCE temperature of the contrastive fine-tuning (a common choice, not tuned)


def ft_checkpoints(steps: int) -> tuple[int, ...]:
    """Where the fine-tuning curves are scored: before, after 2, 5 and 10 steps, and at the end."""
    return tuple(sorted({0, *(c for c in (2, 5, 10) if c < steps), steps}))


def concept_pair_batches(steps: int, seed: int, lang: SyntheticLanguage = LANGUAGE) -> list[list[tuple]]:
    """Fine-tuning data of reported ``seed`` (stream "ft-pairs"): ``steps`` batches, each one pair
    of fresh same-concept sentences per concept (distinct concepts: no false in-batch negatives)."""
    rng = np.random.default_rng(derive_seed(seed, "ft-pairs"))
    return [[(lang.sentence(rng, int(c)).fields(), lang.sentence(rng, int(c)).fields())
             for c in rng.permutation(lang.n_concepts)] for _ in range(steps)]


def score_whole(embedder: Embedder, sets: EvalSets, strategy: str) -> dict[str, float]:
    """The three whole-sentence tasks (mean pooling) for one strategy."""
    hard = [list(x) for x in zip(*sets.hard)]
    (q, corpus, relevance), (first, second, gold) = sets.retrieval, sets.sts
    groups = [*hard, first, second, q, corpus]
    emb = _split(embedder(sum(groups, []), "whole"), [len(g) for g in groups])
    a, p, n, s1, s2, qe, de = (e[(strategy, "mean")] for e in emb)
    return {"hard_triplet": metrics.triplet_accuracy(a, p, n), "sts_spearman": metrics.sts_spearman(s1, s2, gold),
            "retrieval_ndcg10": metrics.retrieval_scores(qe, de, relevance)["ndcg_at_10"]}


def finetune_curves(model: torch.nn.Module, tokenizer, sets: EvalSets, seed: int, checkpoints: tuple[int, ...],
                    lr: float, temperature: float) -> list[dict]:
    """Contrastive fine-tuning of copies of ``model`` with classical and with echo whole-sentence
    embeddings on the same concept pairs (same budget), scored on the whole-sentence tasks at each
    number of steps in ``checkpoints`` (0 = before). Rows: strategy, steps, task, score."""
    batches = concept_pair_batches(max(checkpoints), seed)
    rows = []
    for strategy in ("classical", "echo"):
        tuned = copy.deepcopy(model)
        template = TINY_TEMPLATES[(strategy, "whole")]
        done = 0
        for stop in sorted(checkpoints):
            if stop > done:
                contrastive_finetune(tuned, tokenizer, template, batches[done:stop], lr=lr, temperature=temperature)
                done = stop
            scores = score_whole(lm_embedder(tuned, tokenizer, {(strategy, "whole"): template}), sets, strategy)
            rows += [{"strategy": strategy, "steps": stop, "task": t, "score": v} for t, v in scores.items()]
    return rows


def similarity_structure(embedder: Embedder, seed: int, per_concept: int = 4,
                         lang: SyntheticLanguage = LANGUAGE) -> dict[str, dict[str, np.ndarray]]:
    """Cosine matrices (mean pooling) over sentences sorted by concept: ``early`` = one shared
    early span, early-span embeddings; ``whole`` = fresh early spans, whole-sentence embeddings."""
    rng = np.random.default_rng(derive_seed(seed, "similarity"))
    shared = lang.early_span(rng)
    sets = {"early": [lang.sentence(rng, c, early=shared) for c in range(lang.n_concepts)
                      for _ in range(per_concept)],
            "whole": [lang.sentence(rng, c) for c in range(lang.n_concepts) for _ in range(per_concept)]}
    out: dict[str, dict[str, np.ndarray]] = {}
    for span, sentences in sets.items():
        emb = embedder(sentences, span)
        out[span] = {k[0]: metrics.cosine_matrix(v, v).numpy() for k, v in emb.items() if k[1] == "mean"}
    return out


def frame(rows: list[dict], **columns) -> pd.DataFrame:
    return pd.DataFrame(rows).assign(**columns)
