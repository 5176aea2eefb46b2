"""robustbook.embeddings refuses bad inputs at the door, naming the argument (issue 19)."""

import numpy as np
import pytest
import torch

from robustbook.data.synthetic_language import SyntheticLanguage
from robustbook.embeddings import (
    collate,
    cosine_matrix,
    embed,
    embed_variants,
    mean_pool,
    parse_template,
    pool,
    probe_accuracy,
    render,
    retrieval_scores,
    sts_spearman,
    tie_fraction,
    token_states,
    triplet_accuracy,
    triplet_margins,
)
from robustbook.embeddings.bidirectional import span_embeddings, span_mask
from robustbook.models.tiny_lm import tiny_gpt2, word_tokenizer

LANG = SyntheticLanguage()
TOK = word_tokenizer(LANG.vocabulary())
LM = tiny_gpt2(len(TOK), n_layer=1, n_head=2, n_embd=8, seed=0).eval()
ROWS = [{"text": "a b"}]
ECHO = "<s>{!%%text%%}<sep>{%%text%%}{</s>}"


def _embed(**overrides):
    kw = dict(templates={"echo": ECHO}, rows=ROWS)
    kw.update(overrides)
    return lambda: embed_variants(LM, TOK, **kw)


def _mteb_module():
    from robustbook.embeddings import mteb_eval

    return mteb_eval


def _mteb(**overrides):
    from robustbook.embeddings import mteb_eval

    kw = dict(templates={"query": ECHO, "document": ECHO}, name="unit")
    kw.update(overrides)
    return mteb_eval.TemplateEncoder(LM, TOK, **kw)


_E = torch.eye(3)


@pytest.mark.parametrize("call, message", [
    (lambda: pool(torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool), "max"), r"pooling must be one of \('mean', 'last'\), got 'max'"),
    (lambda: mean_pool(torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool)), r"need states \(B, L, d\) and mask \(B, L\)"),
    (lambda: mean_pool(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.bool)), r"every input needs at least one pooled position"),
    (lambda: parse_template("<s>%%text%%"), r"template pools nothing"),
    (lambda: render(ECHO, TOK, {"text": "a"}, max_tokens=0), r"max_tokens must be None or an integer >= 1, got 0"),
    (lambda: collate([], 0), r"encoded must hold at least one rendered input"),
    (lambda: collate([render(ECHO, TOK, {"text": "a"})], 0, padding_side="middle"), r"padding_side must be one of \('right', 'left'\), got 'middle'"),
    (_embed(rows=[]), r"no rows to embed"),
    (_embed(templates={}), r"templates must name at least one template"),
    (_embed(poolings="mean"), r"poolings must be a sequence of names such as \('mean',\), got the string 'mean'"),
    (_embed(poolings=()), r"poolings must name at least one of \('mean', 'last'\)"),
    (_embed(poolings=("mean", "cls")), r"pooling must be one of \('mean', 'last'\), got 'cls'"),
    (_embed(padding_side="top"), r"padding_side must be one of \('right', 'left'\), got 'top'"),
    (_embed(batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (_embed(max_tokens=-2), r"max_tokens must be an integer >= 1, got -2"),
    (_embed(layer=1.0), r"layer must be an integer, got 1.0"),
    (lambda: embed(LM, TOK, ECHO, ROWS, pooling="first"), r"pooling must be one of \('mean', 'last'\), got 'first'"),
    (lambda: cosine_matrix(torch.zeros(2, 3), torch.zeros(2, 4)), r"a and b must be \(N, d\) and \(M, d\) with the same d, got \(2, 3\) and \(2, 4\)"),
    (lambda: cosine_matrix(torch.zeros(3), torch.zeros(2, 3)), r"a and b must be \(N, d\) and \(M, d\) with the same d, got \(3,\)"),
    (lambda: triplet_margins(_E, _E[:1], _E), r"anchor and positive must be \(N, d\) with the same N and d, got \(3, 3\) and \(1, 3\)"),
    (lambda: triplet_accuracy(_E, _E, _E[:, :2]), r"anchor and negative must be \(N, d\) with the same N and d"),
    (lambda: triplet_accuracy(torch.zeros(0, 3), torch.zeros(0, 3), torch.zeros(0, 3)), r"need at least one of the triplets, got 0"),
    (lambda: triplet_accuracy(_E, _E, _E, tie_tolerance=-1.0), r"tie_tolerance must be a finite number >= 0, got -1.0"),
    (lambda: tie_fraction(_E, _E, _E, tie_tolerance=float("nan")), r"tie_tolerance must be a finite number >= 0, got nan"),
    (lambda: sts_spearman(_E, _E, [1.0, 0.0]), r"gold must hold one score per pair, at least 2 pairs; got 2 scores for 3 pairs"),
    (lambda: sts_spearman(_E[:1], _E[:1], [1.0]), r"at least 2 pairs; got 1 scores for 1 pairs"),
    (lambda: retrieval_scores(_E, _E, np.eye(3), k=0), r"k must be an integer >= 1 \(nDCG@k\), got 0"),
    (lambda: retrieval_scores(_E, _E, np.eye(3)[:2]), r"relevance must be \(Q, D\) with at least one relevant document per query"),
    (lambda: probe_accuracy(_E, [0, 1, 0], _E, [0, 1, 0], c=0.0), r"c \(inverse L2 strength\) must be a finite number > 0, got 0.0"),
    (lambda: span_mask([0, 1], [1, 1], (2, 1)), r"span must be \[start, end\) word indices with 0 <= start <= end, got \(2, 1\)"),
    (lambda: span_embeddings(LM, TOK, [["a"]], {}), r"spans must name at least one span"),
    (lambda: span_embeddings(LM, TOK, [["a"]], {"all": None}, poolings=("sum",)), r"pooling must be one of \('mean', 'last'\), got 'sum'"),
    (lambda: span_embeddings(LM, TOK, [["a"]], {"all": None}, batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (lambda: span_embeddings(LM, TOK, [["a"]], {"late": (3, 1)}), r"spans\['late'\] must be None or \[start, end\) word indices"),
    (lambda: _mteb(templates={"query": ECHO}), r"templates must have 'query' and 'document' entries, missing \['document'\]"),
    (lambda: _mteb(templates={"query": ECHO, "document": "<s>%%text%%"}), r"template pools nothing"),
    (lambda: _mteb(pooling="cls"), r"pooling must be one of \('mean', 'last'\), got 'cls'"),
    (lambda: _mteb(batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (lambda: token_states(LM, collate([render(ECHO, TOK, {"text": "a"})], 0), layer="last"), r"layer must be an integer, got 'last'"),
    (lambda: _mteb_module().local_sts_task("Unit", ["a", "b"], ["a"], [1.0, 0.0]), r"first, second and scores need one entry per pair and at least 2 pairs, got 2, 1, 2"),
    (lambda: _mteb_module().local_sts_task("Unit", ["a", "b"], ["a", "b"], [1.0, 0.0], min_score=1.0, max_score=1.0), r"need min_score < max_score, got 1.0, 1.0"),
    (lambda: _mteb_module().local_retrieval_task("Unit", ["q"], ["a", "b"], np.ones((1, 3))), r"relevance must be \(Q, D\) = \(1, 2\) for the queries and corpus given, got shape \(1, 3\)"),
])
def test_bad_inputs_are_refused_with_the_argument_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_unknown_template_variable_is_a_key_error_naming_it():
    with pytest.raises(KeyError, match=r"%%text%% has no value \(given: \['txt'\]\)"):
        render(ECHO, TOK, {"txt": "a"})
