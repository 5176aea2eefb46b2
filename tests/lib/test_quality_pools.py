"""Bucketed pools: label-noise buckets of a Gaussian mixture, caption-noise buckets of digits."""

import pytest
import torch

from robustbook.data.caption_pools import CAPTION_TEMPLATES, DIGIT_NAMES, digit_caption_pool
from robustbook.data.quality_pools import bayes_predict, gaussian_quality_pool


def _pool(**kw):
    return gaussian_quality_pool(**{"bucket_size": 2000, "noise_rates": (0.0, 0.1, 0.3), "seed": 0, **kw})


def test_gaussian_pool_buckets_carry_their_noise_rates_and_test_labels_are_clean():
    pool = _pool()
    assert pool.x.shape == (6000, 16) and pool.bucket_size == 2000 and pool.n_buckets == 3
    for i, rate in enumerate((0.0, 0.1, 0.3)):
        mask = pool.bucket == i
        wrong = (pool.y[mask] != pool.y_clean[mask]).float().mean().item()
        assert wrong == pytest.approx(rate, abs=0.025)
    assert len(pool.x_test) == 5000 and pool.y_test.max().item() == 9


def test_top_m_is_the_union_of_the_best_buckets():
    pool = _pool(bucket_size=50)
    x, y = pool.top(2)
    assert len(x) == 100 and torch.equal(x, pool.x[:100]) and torch.equal(y, pool.y[:100])
    x3, _ = pool.buckets([2])
    assert torch.equal(x3, pool.x[100:])
    with pytest.raises(ValueError, match="m must be in 1..3"):
        pool.top(4)


def test_bayes_error_is_the_nearest_mean_rule_and_beats_any_other_rule():
    pool = _pool(bucket_size=10)
    assert 0.0 < pool.bayes_error < 0.5
    # The rule that predicts the true label of the training buckets' nearest clean point is worse.
    nearest = torch.cdist(pool.x_test, pool.x).argmin(1)
    assert (pool.y_clean[nearest] != pool.y_test).float().mean().item() > pool.bayes_error
    assert bayes_predict(torch.zeros(1, 2), torch.tensor([[1.0, 0.0], [-2.0, 0.0]])).item() == 0


def test_gaussian_pool_is_deterministic_per_seed_and_checks_arguments():
    assert torch.equal(_pool(bucket_size=20).x, _pool(bucket_size=20).x)
    assert not torch.equal(_pool(bucket_size=20).x, _pool(bucket_size=20, seed=1).x)
    with pytest.raises(ValueError, match="bucket_size"):
        gaussian_quality_pool(bucket_size=0, noise_rates=(0.0,), seed=0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        gaussian_quality_pool(bucket_size=5, noise_rates=(0.0, 1.2), seed=0)


def test_caption_pool_buckets_differ_in_caption_quality():
    pool = digit_caption_pool(bucket_size=300, caption_noise=(0.0, 0.5), seed=0)
    assert pool.images.shape == (600, 3, 16, 16) and len(pool.captions) == 600
    assert len(pool.test_images) == 1797 - 600
    wrong = pool.caption_labels != pool.labels
    assert not wrong[:300].any() and wrong[300:].float().mean().item() == pytest.approx(0.5, abs=0.08)
    for caption, named in zip(pool.captions, pool.caption_labels.tolist()):
        assert any(caption == t.format(DIGIT_NAMES[named]) for t in CAPTION_TEMPLATES)
    images, captions = pool.top(1)
    assert len(images) == 300 and captions == list(pool.captions[:300])


def test_caption_pool_is_deterministic_and_checks_its_size():
    a = digit_caption_pool(bucket_size=50, caption_noise=(0.0, 0.3), seed=3)
    b = digit_caption_pool(bucket_size=50, caption_noise=(0.0, 0.3), seed=3)
    assert a.captions == b.captions and torch.equal(a.images, b.images)
    with pytest.raises(ValueError, match="300 test digits"):
        digit_caption_pool(bucket_size=800, caption_noise=(0.0, 0.1), seed=0)
