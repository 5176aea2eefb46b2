"""robustbook.data.text_topics (the language version's task and its shifts) and its frozen-feature
pool (robustbook.models.frozen_features.text_pool / text_features), with a bag-of-words encoder
standing in for MiniLM."""

import numpy as np
import pytest
import torch

from robustbook.data.text_topics import (
    CHAT_TEMPLATES,
    NEWS_TEMPLATES,
    TOPICS,
    Post,
    add_typos,
    render,
    sample_posts,
    shifted_texts,
    typo,
    with_heldout_words,
)
from robustbook.models.frozen_features import text_features, text_pool


def test_rendering_by_hand():
    post = Post(topic=0, a=0, b=3, x=(2, 1), f="morning", template=0)
    assert render(post) == "Officials say the football and the match drew notice near the storm this morning."
    assert render(post, "chat") == "omg the football and the match lol, also that storm haha"
    held = Post(topic=0, a=0, b=3, x=(2, 1), f="morning", template=1, heldout=(True, False, True))
    assert render(held) == "A morning report links the basketball to the match, not to the drizzle."


def test_posts_name_their_topic_twice_and_another_topic_once():
    for p in sample_posts(300, np.random.default_rng(0), n_topics=4):
        assert 0 <= p.topic < 4 and p.a != p.b and p.x[0] != p.topic and 0 <= p.x[0] < 4
        words = render(p).rstrip(".").replace(",", "").split()
        common = {t: set(TOPICS[t][0]) for t in list(TOPICS)[:4]}
        counts = {t: sum(w in ws for w in words) for t, ws in common.items()}
        assert counts[list(TOPICS)[p.topic]] == 2 and sum(counts.values()) == 3


def test_sampling_is_seeded():
    one = sample_posts(50, np.random.default_rng(3))
    assert one == sample_posts(50, np.random.default_rng(3)) != sample_posts(50, np.random.default_rng(4))
    assert {p.template for p in one} == set(range(len(NEWS_TEMPLATES))) and len(CHAT_TEMPLATES) == len(NEWS_TEMPLATES)


def test_heldout_share_is_the_probability_per_slot():
    posts = sample_posts(2000, np.random.default_rng(0))
    assert all(p.heldout == (False,) * 3 for p in with_heldout_words(posts, 0.0, np.random.default_rng(1)))
    assert all(p.heldout == (True,) * 3 for p in with_heldout_words(posts, 1.0, np.random.default_rng(1)))
    share = np.mean([p.heldout for p in with_heldout_words(posts, 0.6, np.random.default_rng(1))])
    assert abs(share - 0.6) < 0.02
    kept = with_heldout_words(posts, 0.6, np.random.default_rng(1))
    assert [(p.topic, p.a, p.b, p.x, p.f) for p in kept] == [(p.topic, p.a, p.b, p.x, p.f) for p in posts]


def _edits(a: str, b: str) -> int:
    """Optimal-string-alignment distance (insert, delete, replace, swap neighbours)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def test_a_typo_is_one_edit():
    assert (_edits("football", "fotoball"), _edits("football", "footbal"), _edits("ab", "ba")) == (1, 1, 1)
    rng = np.random.default_rng(0)
    outs = [typo("football", rng) for _ in range(200)]
    assert all(_edits(o, "football") <= 1 for o in outs)     # 0 only when the edit changes nothing ("ll" swapped)
    assert np.mean([o != "football" for o in outs]) > 0.9
    assert {len(o) for o in outs} == {7, 8, 9}                  # drops, swaps/replacements, doubles
    assert typo("to", rng) == "to"


def test_typo_rate_and_punctuation():
    text = " ".join(["football."] * 4000)
    edited = add_typos(text, 0.3, np.random.default_rng(0)).split(" ")
    assert all(t.endswith(".") for t in edited)                    # punctuation kept
    assert abs(np.mean([t != "football." for t in edited]) - 0.3) < 0.03
    assert add_typos(text, 0.0, np.random.default_rng(0)) == text


def test_shifted_texts_rerender_the_same_posts():
    posts = sample_posts(40, np.random.default_rng(0))
    style = shifted_texts(posts, "style", 1, np.random.default_rng(1))
    assert style == [render(p, "chat") for p in posts]
    vocab = shifted_texts(posts, "vocabulary", 5, np.random.default_rng(1))
    held = {w for _, h in TOPICS.values() for w in h}
    assert all(sum(w.strip(".,") in held for w in t.split()) == 3 for t in vocab)   # share 5/5 = 1
    with pytest.raises(ValueError, match="unknown text shift 'noise'"):
        shifted_texts(posts, "noise", 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="severity must be in 1..5, got 6"):
        shifted_texts(posts, "typos", 6, np.random.default_rng(0))


def _bag_of_words(texts):
    vocab = sorted({w for ws in TOPICS.values() for w in ws[0] + ws[1]})
    index = {w: i for i, w in enumerate(vocab)}
    out = torch.zeros(len(texts), len(vocab))
    for i, t in enumerate(texts):
        for w in t.replace(",", " ").replace(".", " ").split():
            if w in index:
                out[i, index[w]] += 1
    return out


def test_text_pool_and_one_seeds_features():
    pool = text_pool(_bag_of_words, n_train=200, n_test=50, severities=[1, 5], seed=0, n_topics=3)
    assert list(pool.shifts) == ["vocabulary-1", "vocabulary-5", "style", "typos-1", "typos-5"]
    assert pool.shift_info["style"] == ("style", 0) and pool.shift_info["typos-5"] == ("typos", 5)
    assert pool.x_train.shape[0] == 200 and pool.n_classes == 3
    assert torch.equal(pool.shifts["style"], pool.x_test)   # style keeps every word; bag of words is blind to it
    assert pool.shifts["vocabulary-5"].sum() == pool.x_test.sum()   # three topic words per post either way
    feats = text_features(pool, train_fraction=0.8, seed=1)
    assert feats.x_train.shape[0] == 160 and feats.n_classes == 3
    assert torch.allclose(feats.x_train.mean(0), torch.zeros(feats.x_train.shape[1]), atol=1e-5)
    other = text_features(pool, train_fraction=0.8, seed=2)
    assert not torch.equal(feats.y_train, other.y_train)
    assert torch.equal(feats.y_id, pool.y_test) and set(feats.shifts) == set(pool.shifts)
    with pytest.raises(ValueError, match="train_fraction"):
        text_features(pool, train_fraction=0.0, seed=1)
    with pytest.raises(ValueError, match="severities"):
        text_pool(_bag_of_words, n_train=20, n_test=5, severities=[7], seed=0)
    with pytest.raises(ValueError, match="n_topics must be in"):
        text_pool(_bag_of_words, n_train=20, n_test=5, severities=[1], seed=0, n_topics=9)


@pytest.mark.parametrize("call, message", [
    (lambda: sample_posts(-1, np.random.default_rng(0)), r"n must be an integer >= 0, got -1"),
    (lambda: sample_posts(3, np.random.default_rng(0), n_topics=1), r"n_topics must be an integer >= 2, got 1"),
    (lambda: render(sample_posts(1, np.random.default_rng(0))[0], "poem"), r"style must be 'news' or 'chat', got 'poem'"),
    (lambda: with_heldout_words([], 1.5, np.random.default_rng(0)), r"share must be .*1.5"),
    (lambda: add_typos("a b", -0.1, np.random.default_rng(0)), r"rate must be .*-0.1"),
    (lambda: text_pool(_bag_of_words, n_train=1, n_test=5, severities=[1], seed=0), r"n_train must be an integer >= 2, got 1"),
    (lambda: text_pool(_bag_of_words, n_train=10, n_test=0, severities=[1], seed=0), r"n_test must be an integer >= 1, got 0"),
])
def test_bad_inputs_are_refused_with_the_argument_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
