"""robustbook.data refuses bad inputs at the door, naming the argument (issue 19)."""

import numpy as np
import pytest
import torch

from robustbook.data import gaussian_binary_classification, load_digits_split, symmetric_label_noise
from robustbook.data.caption_pools import digit_caption_pool
from robustbook.data.cifar_shifts import load_cifar10_c, write_cifar10_c
from robustbook.data.digit_shifts import digit_images, split_digits
from robustbook.data.quality_pools import gaussian_quality_pool
from robustbook.data.spurious import (
    SpuriousModel,
    colour_digits,
    coloured_digit_shift,
    palette,
    sample_spurious,
    spurious_colours,
)
from robustbook.data.synthetic_language import SyntheticLanguage
from robustbook.data.webdataset_shards import read_shards
from robustbook.data.wilds_loaders import load_camelyon17_shift


def _gen():
    return torch.Generator().manual_seed(0)


def _noise(labels=None, rate=0.2, n_classes=10):
    labels = torch.arange(10) if labels is None else labels
    return lambda: symmetric_label_noise(labels, rate, n_classes, _gen())


def _gauss(**overrides):
    kw = dict(n_train=10, n_test=5, dim=3, noise_rate=0.1, margin=1.0, seed=0)
    kw.update(overrides)
    return lambda: gaussian_binary_classification(**kw)


def _pool(**overrides):
    kw = dict(bucket_size=10, noise_rates=(0.0, 0.5), n_test=20, seed=0)
    kw.update(overrides)
    return lambda: gaussian_quality_pool(**kw)


@pytest.mark.parametrize("call, message", [
    (_noise(rate=1.0), r"label noise rate must be in \[0, 1\), got 1.0"),
    (_noise(rate=float("nan")), r"label noise rate must be in \[0, 1\), got nan"),
    (_noise(n_classes=1), r"n_classes must be an integer >= 2, got 1"),
    (_noise(n_classes=2.0), r"n_classes must be an integer >= 2, got 2.0"),
    (_noise(labels=torch.arange(10) % 3 * 1.0), r"labels must be integer class indices, got dtype torch.float32"),
    (_noise(labels=torch.arange(12)), r"labels must lie in \[0, n_classes=10\), got range \[0, 11\]"),
    (_noise(labels=torch.tensor([-1, 0])), r"labels must lie in \[0, n_classes=10\), got range \[-1, 0\]"),
    (_gauss(noise_rate=-0.1), r"noise_rate must be in \[0, 1\), got -0.1"),
    (_gauss(n_train=0), r"n_train must be an integer >= 1, got 0"),
    (_gauss(n_test=-1), r"n_test must be an integer >= 0, got -1"),
    (_gauss(dim=0), r"dim must be an integer >= 1, got 0"),
    (_gauss(margin=float("nan")), r"margin must be a finite number in \[0, inf\), got nan"),
    (lambda: load_digits_split(noise_rate=1.2, seed=0), r"noise_rate must be in \[0, 1\), got 1.2"),
    (lambda: load_digits_split(noise_rate=0.1, seed=0, test_fraction=0.0), r"test_fraction must be in \(0, 1\), got 0.0"),
    (lambda: load_digits_split(noise_rate=0.1, seed=0, n_train=-5), r"n_train must be an integer >= 1, got -5"),
    (lambda: SpuriousModel(dim_inv=0), r"dim_inv must be an integer >= 1, got 0"),
    (lambda: SpuriousModel(gamma=float("nan")), r"gamma must be a finite number in \(-inf, inf\), got nan"),
    (lambda: SpuriousModel(s_tgt=-1.0), r"s_tgt must be a finite number in \[0, inf\), got -1.0"),
    (lambda: sample_spurious(SpuriousModel(), 4, domain="test", generator=_gen()), r"domain must be 'source' or 'target', got 'test'"),
    (lambda: sample_spurious(SpuriousModel(), -4, domain="source", generator=_gen()), r"n must be an integer >= 0, got -4"),
    (lambda: palette(0), r"n_colours must be an integer >= 1, got 0"),
    (lambda: colour_digits(torch.zeros(4, 8), torch.zeros(4, dtype=torch.long)), r"gray must be \(N, H, W\) images, got shape \(4, 8\)"),
    (lambda: colour_digits(torch.zeros(4, 8, 8), torch.zeros(3, dtype=torch.long)), r"colour_idx must be \(N,\) = \(4,\) like gray, got shape \(3,\)"),
    (lambda: spurious_colours(torch.arange(4), 1.5, _gen()), r"p_spurious must be in \[0, 1\], got 1.5"),
    (lambda: spurious_colours(torch.arange(4), 0.5, _gen(), n_colours=0), r"n_colours must be an integer >= 1, got 0"),
    (lambda: coloured_digit_shift(p_spurious=float("nan"), generator=_gen()), r"p_spurious must be in \[0, 1\], got nan"),
    (lambda: coloured_digit_shift(p_spurious=0.9, generator=_gen(), n_labels=-10), r"n_labels must be an integer >= 1, got -10"),
    (lambda: digit_images(0), r"size must be an integer >= 1, got 0"),
    (lambda: split_digits(np.arange(30) % 3, 0, test_fraction=1.0), r"test_fraction must be in \(0, 1\), got 1.0"),
    (lambda: split_digits(np.arange(30) % 3, 0, n_train=0), r"n_train must be an integer >= 1, got 0"),
    (_pool(bucket_size=0), r"bucket_size >= 1 and at least one bucket"),
    (_pool(noise_rates=()), r"bucket_size >= 1 and at least one bucket"),
    (_pool(bucket_size=2.5), r"bucket_size must be an integer >= 1, got 2.5"),
    (_pool(n_classes=1), r"need n_classes >= 2, dim >= 1, separation > 0"),
    (_pool(separation=float("nan")), r"separation must be a finite number in \(0, inf\), got nan"),
    (_pool(n_test=0), r"n_test must be an integer >= 1, got 0"),
    (_pool(noise_rates=(0.0, 1.0)), r"noise_rates\[1\] must be a label noise rate in \[0, 1\), got 1.0"),
    (lambda: digit_caption_pool(bucket_size=0, caption_noise=(0.0,), seed=0), r"bucket_size must be an integer >= 1, got 0"),
    (lambda: digit_caption_pool(bucket_size=10, caption_noise=(0.0,), seed=0, image_size=0), r"image_size must be an integer >= 1, got 0"),
    (lambda: digit_caption_pool(bucket_size=1000, caption_noise=(0.0, 0.5), seed=0), r"300 test digits"),
    (lambda: digit_caption_pool(bucket_size=10, caption_noise=(float("nan"),), seed=0), r"caption noise rates must be in \[0, 1\], got \(nan,\)"),
    (lambda: load_cifar10_c("/nonexistent", "blur", 1), r"unknown CIFAR-10-C corruption 'blur'"),
    (lambda: load_cifar10_c("/nonexistent", "fog", 6), r"severity must be one of \(1, 2, 3, 4, 5\), got 6"),
    (lambda: write_cifar10_c("/nonexistent", "fog", np.zeros((4, 2, 32, 32, 3)), np.zeros(2)), r"images_by_severity must be uint8 \(5, n, 32, 32, 3\) with labels \(n,\), got \(4, 2, 32, 32, 3\) and 2 labels"),
    (lambda: write_cifar10_c("/nonexistent", "fog", np.zeros((5, 2, 32, 32, 3)), np.zeros(3)), r"images_by_severity must be uint8 \(5, n, 32, 32, 3\).*and 3 labels"),
    (lambda: list(read_shards("shard-000.tar")), r"paths must be a list of shard paths, not one path .*got 'shard-000.tar'; use \[path\]"),
    (lambda: load_camelyon17_shift("/nonexistent", max_per_domain=0, generator=_gen()), r"max_per_domain must be an integer >= 1, got 0"),
    (lambda: SyntheticLanguage(n_content=3.5), r"n_content must be an integer, got 3.5"),
    (lambda: SyntheticLanguage(n_concepts=1), r"n_concepts must be in \[2, "),
    (lambda: SyntheticLanguage().sentence(np.random.default_rng(0), concept=8), r"concept must be an integer in \[0, n_concepts=8\), got 8"),
    (lambda: SyntheticLanguage().late_span(-1, np.random.default_rng(0)), r"concept must be an integer in \[0, n_concepts=8\), got -1"),
    (lambda: SyntheticLanguage().training_texts(-1, np.random.default_rng(0), 0.5), r"n must be an integer >= 0, got -1"),
    (lambda: SyntheticLanguage().training_texts(4, np.random.default_rng(0), 1.5), r"repeat_fraction must be in \[0, 1\], got 1.5"),
    (lambda: SyntheticLanguage().sample(-1, np.random.default_rng(0)), r"n must be an integer >= 0, got -1"),
    (lambda: SyntheticLanguage().late_triplets(2.0, np.random.default_rng(0)), r"n must be an integer >= 0, got 2.0"),
    (lambda: SyntheticLanguage().hard_triplets(-3, np.random.default_rng(0)), r"n must be an integer >= 0, got -3"),
    (lambda: SyntheticLanguage().sts_pairs(-2, np.random.default_rng(0)), r"n must be an integer >= 0, got -2"),
    (lambda: SyntheticLanguage().retrieval_task(0, 10, np.random.default_rng(0)), r"n_queries must be an integer >= 1, got 0"),
    (lambda: SyntheticLanguage().retrieval_task(2, -1, np.random.default_rng(0)), r"n_documents must be an integer >= 0, got -1"),
])
def test_bad_inputs_are_refused_with_the_argument_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_numpy_integers_and_empty_labels_stay_valid():
    labels = torch.zeros(0, dtype=torch.long)
    assert symmetric_label_noise(labels, 0.5, np.int64(10), _gen()).shape == (0,)
    assert SyntheticLanguage(n_content=np.int64(8)).sentence(np.random.default_rng(0), concept=np.int64(1)).concept == 1


def test_a_corpus_smaller_than_two_documents_per_query_stays_valid():
    queries, corpus, relevance = SyntheticLanguage().retrieval_task(10, 12, np.random.default_rng(0))
    assert len(corpus) == 20 and relevance.shape == (10, 20)
