"""Shift builders: the theory model's moments, coloured digits, the Camelyon17 reader on fake files."""

import math

import pytest
import torch

from robustbook.data.spurious import (
    SpuriousModel,
    colour_digits,
    coloured_digit_shift,
    palette,
    sample_spurious,
    spurious_colours,
)
from robustbook.data.wilds_loaders import check_camelyon17, load_camelyon17_shift, write_fake_camelyon17


def test_theory_model_moments_per_domain():
    m = SpuriousModel(dim_inv=4, gamma=2.0, mu_sp=3.0, s_src=0.5, s_tgt=4.0)
    g = torch.Generator().manual_seed(0)
    xs, ys = sample_spurious(m, 20000, domain="source", generator=g)
    xt, yt = sample_spurious(m, 20000, domain="target", generator=g)
    assert xs.shape == (20000, 5) and set(ys.unique().tolist()) == {-1.0, 1.0}
    assert float((xs[:, -1] * ys).mean()) == pytest.approx(3.0, abs=0.02)        # mu_sp
    assert float((xs[:, -1] - 3.0 * ys).std()) == pytest.approx(0.5, abs=0.02)   # s_src
    assert float(xt[:, -1].std()) == pytest.approx(4.0, abs=0.1)                 # s_tgt
    assert abs(float((xt[:, -1] * yt).mean())) < 0.1                             # no label information
    proj = xt[:, :4] @ m.w_star()[:4]
    assert float((proj * yt).mean()) == pytest.approx(2.0, abs=0.03)             # gamma along w_star
    assert m.bayes_target_accuracy() == pytest.approx(0.5 * (1 + math.erf(2.0 / math.sqrt(2))))
    # no shift: the source is drawn like the target
    xn, yn = sample_spurious(m, 20000, domain="source", generator=g, shift=False)
    assert float(xn[:, -1].std()) == pytest.approx(4.0, abs=0.1)
    with pytest.raises(ValueError, match="domain"):
        sample_spurious(m, 3, domain="test", generator=g)


def test_palette_and_colouring():
    p = palette(6)
    assert p[0].tolist() == pytest.approx([1.0, 0.0, 0.0]) and p[2].tolist() == pytest.approx([0.0, 1.0, 0.0])
    img = colour_digits(torch.full((1, 2, 2), 0.5), torch.tensor([2]), n_colours=6)
    assert img.shape == (1, 3, 2, 2) and img[0, :, 0, 0].tolist() == pytest.approx([0.0, 0.5, 0.0])


def test_spurious_colours_follow_the_label_with_probability_p():
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(10).repeat(2000)
    c = spurious_colours(labels, 0.7, g)
    # P(colour == label) = p + (1 - p) / 10
    assert float((c == labels).float().mean()) == pytest.approx(0.7 + 0.03, abs=0.015)
    with pytest.raises(ValueError, match="p_spurious"):
        spurious_colours(labels, 1.5, g)


def test_coloured_digit_shift_splits_and_colours():
    d = coloured_digit_shift(p_spurious=1.0, generator=torch.Generator().manual_seed(2), n_labels=200)
    assert d.x_source.shape == (200, 3, 8, 8) and len(d.x_target) + len(d.x_test) == 1797 - 599
    colours = palette(10)

    def colour_of(x):
        rgb = x.sum(dim=(2, 3))
        return (rgb / rgb.norm(dim=1, keepdim=True) @ (colours / colours.norm(dim=1, keepdim=True)).T).argmax(1)

    assert torch.equal(colour_of(d.x_source), d.y_source)                  # p = 1: always the label's colour
    assert float((colour_of(d.x_test) == d.y_test).float().mean()) < 0.2   # random in the target
    assert d.n_classes == 10


def test_camelyon17_reader_on_fake_files(tmp_path):
    write_fake_camelyon17(tmp_path, n_per_center=6, size=12)
    d = load_camelyon17_shift(tmp_path, max_per_domain=4, generator=torch.Generator().manual_seed(0))
    assert d.x_source.shape == (4, 3, 12, 12) and len(d.x_target) == 3 and len(d.x_test) == 3
    assert d.x_source.max() <= 1.0 and set(d.y_source.tolist()) <= {0, 1}
    full = load_camelyon17_shift(tmp_path, max_per_domain=None, generator=torch.Generator().manual_seed(0))
    assert len(full.x_source) == 18 and len(full.x_target) + len(full.x_test) == 6  # centers 0-2 vs 4


def test_camelyon17_missing_data_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="camelyon17_v1.0/metadata.csv"):
        check_camelyon17(tmp_path)
    with pytest.raises(FileNotFoundError, match="needs data_dir"):
        check_camelyon17(None)
    root = write_fake_camelyon17(tmp_path, n_per_center=2, size=4)
    next(root.glob("patches/*/*.png")).unlink()
    with pytest.raises(FileNotFoundError, match="patches missing"):
        load_camelyon17_shift(tmp_path, max_per_domain=None, generator=torch.Generator().manual_seed(0))
