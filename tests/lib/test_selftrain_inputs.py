"""robustbook.selftrain refuses bad inputs at the door, naming the argument (issue 19)."""

import pytest
import torch
from torch import nn

from robustbook.models.tiny_cnn import TinyCNN
from robustbook.selftrain import (
    entropy_loss,
    entropy_self_train,
    fit_logistic,
    fit_spectral_sgd,
    fixmatch_loss,
    linear_accuracy,
    nt_xent_loss,
    population_spectral_loss,
    second_moment,
    spectral_closed_form,
    spectral_contrastive_loss,
    spectral_optimum_value,
    subspace_alignment,
)
from robustbook.selftrain.augment import colour_distort, cutout, strong_view, translate
from robustbook.selftrain.image import fixmatch_train, projection_head, simclr_pretrain, train_source
from robustbook.selftrain.linear import angle_to


def _gen():
    return torch.Generator().manual_seed(0)


IMG = torch.zeros(4, 3, 8, 8)
Z = torch.randn(6, 2, generator=_gen())
Y = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
W = torch.tensor([1.0, 0.5])


def _fixmatch(**overrides):
    kw = dict(x_lab=IMG, y_lab=torch.zeros(4, dtype=torch.long), x_unlab=IMG, epochs=1, batch_size=2, mu=1,
              tau=0.9, lam=1.0, lr=1e-3, generator=_gen())
    kw.update(overrides)
    return lambda: fixmatch_train(TinyCNN(3, 2, 4), **kw)


def _self_train(**overrides):
    kw = dict(z=Z, w=W, b=0.0, steps=2, lr=0.1, logit_scale=2.0)
    kw.update(overrides)
    return lambda: entropy_self_train(**kw)


@pytest.mark.parametrize("call, message", [
    (lambda: translate(IMG, -1, _gen()), r"shift must be an integer >= 0, got -1"),
    (lambda: translate(torch.zeros(3, 8, 8), 1, _gen()), r"x must be images \(B, C, H, W\), got shape \(3, 8, 8\)"),
    (lambda: colour_distort(IMG, _gen(), p_grey=1.5), r"p_grey must be a finite number in \[0, 1\], got 1.5"),
    (lambda: cutout(IMG, -3, _gen()), r"size must be an integer >= 0, got -3"),
    (lambda: strong_view(IMG, _gen(), cutout_size=2.5), r"cutout_size must be an integer >= 0, got 2.5"),
    (lambda: spectral_contrastive_loss(torch.zeros(1, 3), torch.zeros(1, 3)), r"needs a batch of at least 2 pairs"),
    (lambda: spectral_contrastive_loss(torch.zeros(4, 3), torch.zeros(3, 3)), r"z1 and z2 must both be \(B, k\) with row i a positive pair, got \(4, 3\) and \(3, 3\)"),
    (lambda: nt_xent_loss(torch.zeros(4, 3), torch.zeros(4, 3), temperature=0.0), r"temperature must be a finite number in \(0, inf\), got 0.0"),
    (lambda: nt_xent_loss(torch.zeros(4, 3), torch.zeros(4, 3), temperature=float("nan")), r"temperature must be a finite number in \(0, inf\), got nan"),
    (lambda: nt_xent_loss(torch.zeros(4, 3), torch.zeros(4, 2)), r"z1 and z2 must both be \(B, k\)"),
    (lambda: fixmatch_loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.zeros(4, 3), torch.zeros(4, 3), tau=-0.5), r"tau must be a finite number in \[0, inf\), got -0.5"),
    (lambda: fixmatch_loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.zeros(4, 3), torch.zeros(4, 3), lam=-1.0), r"lam must be a finite number in \[0, inf\), got -1.0"),
    (lambda: fixmatch_loss(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long), torch.zeros(4, 3), torch.zeros(4, 3)), r"logits_labelled must be \(B, C\) and y \(B,\), got \(2, 3\) and \(3,\)"),
    (lambda: fixmatch_loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.zeros(4, 3), torch.zeros(3, 3)), r"logits_weak and logits_strong must both be \(U, C\), got \(4, 3\) and \(3, 3\)"),
    (lambda: entropy_loss(torch.zeros(2, 3, 4)), r"logits must be \(N, C\) or \(N,\), got shape \(2, 3, 4\)"),
    (lambda: second_moment(torch.zeros(0, 3)), r"x must be \(N, d\) with N >= 1, got shape \(0, 3\)"),
    (lambda: population_spectral_loss(torch.zeros(2, 3), torch.eye(4), 0.5), r"w must be \(k, d=4\), got shape \(2, 3\)"),
    (lambda: population_spectral_loss(torch.zeros(2, 3), torch.zeros(3, 4), 0.5), r"s must be a square \(d, d\) matrix, got shape \(3, 4\)"),
    (lambda: spectral_closed_form(torch.eye(3), 4, 0.5), r"k must be in \[1, 3\], got 4"),
    (lambda: spectral_closed_form(torch.eye(3), 2, float("nan")), r"sigma must be a finite number in \(-inf, inf\), got nan"),
    (lambda: spectral_optimum_value(torch.ones(2), float("inf")), r"sigma must be a finite number"),
    (lambda: fit_spectral_sgd(Z, k=1, sigma=0.1, steps=1, lr=0.01, batch_size=1, generator=_gen()), r"batch_size must be an integer >= 2, got 1"),
    (lambda: fit_spectral_sgd(Z, k=0, sigma=0.1, steps=1, lr=0.01, batch_size=4, generator=_gen()), r"k must be an integer >= 1, got 0"),
    (lambda: fit_spectral_sgd(Z, k=1, sigma=-0.1, steps=1, lr=0.01, batch_size=4, generator=_gen()), r"sigma must be a finite number in \[0, inf\), got -0.1"),
    (lambda: fit_spectral_sgd(Z, k=1, sigma=0.1, steps=-1, lr=0.01, batch_size=4, generator=_gen()), r"steps must be an integer >= 0, got -1"),
    (lambda: subspace_alignment(torch.zeros(2, 3), torch.zeros(1, 3)), r"w and w_ref must both be \(k, d\), got \(2, 3\) and \(1, 3\)"),
    (lambda: fit_logistic(Z, Y, l2=0.0), r"l2 must be a finite number in \(0, inf\), got 0.0"),
    (lambda: fit_logistic(Z, Y[:4], l2=0.1), r"z must be \(N, k\) and y \(N,\), got \(6, 2\) and \(4,\)"),
    (lambda: linear_accuracy(Z, Y, torch.ones(3), 0.0), r"z must be \(N, k\) with N >= 1, w \(k,\) and y \(N,\), got \(6, 2\), \(3,\), \(6,\)"),
    (_self_train(logit_scale=float("nan")), r"logit_scale must be a finite number in \(0, inf\), got nan"),
    (_self_train(record_every=0), r"record_every must be an integer >= 1, got 0"),
    (_self_train(steps=-1), r"steps must be an integer >= 0, got -1"),
    (_self_train(w=torch.ones(3)), r"z must be \(N, k\) and w \(k,\), got \(6, 2\) and \(3,\)"),
    (_self_train(w=torch.zeros(2)), r"self-training needs a non-zero initial head"),
    (lambda: train_source(TinyCNN(3, 2, 4), torch.zeros(4, 8, 8), torch.zeros(4, dtype=torch.long), epochs=1, batch_size=2, lr=1e-3, generator=_gen()), r"x must be images \(N, C, H, W\), got shape \(4, 8, 8\)"),
    (lambda: train_source(TinyCNN(3, 2, 4), IMG, torch.zeros(4, dtype=torch.long), epochs=-1, batch_size=2, lr=1e-3, generator=_gen()), r"epochs must be an integer >= 0, got -1"),
    (lambda: projection_head(0), r"d_in must be an integer >= 1, got 0"),
    (lambda: simclr_pretrain(TinyCNN(3, 2, 4), IMG, epochs=1, batch_size=1, lr=1e-3, temperature=0.5, generator=_gen()), r"batch_size must be an integer >= 2, got 1"),
    (lambda: simclr_pretrain(TinyCNN(3, 2, 4), IMG, epochs=1, batch_size=2, lr=1e-3, temperature=-0.5, generator=_gen()), r"temperature must be a finite number in \(0, inf\), got -0.5"),
    (lambda: simclr_pretrain(nn.Linear(3, 2), IMG, epochs=1, batch_size=2, lr=1e-3, temperature=0.5, generator=_gen()), r"model must expose features\(x\) and a linear head, got Linear"),
    (_fixmatch(mu=0), r"mu must be an integer >= 1, got 0"),
    (_fixmatch(tau=float("nan")), r"tau must be a finite number in \[0, inf\), got nan"),
    (_fixmatch(lam=float("nan")), r"lam must be a finite number in \[0, inf\), got nan"),
    (_fixmatch(x_lab=IMG[:0], y_lab=torch.zeros(0, dtype=torch.long)), r"need a non-empty labelled set with one label per image, got x_lab=0, y_lab=0"),
    (_fixmatch(y_lab=torch.zeros(3, dtype=torch.long)), r"need a non-empty labelled set with one label per image, got x_lab=4, y_lab=3"),
    (_fixmatch(y_unlab=torch.zeros(3, dtype=torch.long)), r"y_unlab must have one label per x_unlab image, got 3 for 4"),
    (_fixmatch(x_unlab=torch.zeros(4, 3, 6, 6)), r"x_lab and x_unlab must be images \(N, C, H, W\) of one size"),
    (lambda: angle_to(torch.ones(2), torch.ones(3)), r"w and direction must both be \(d,\), got \(2,\) and \(3,\)"),
    (lambda: angle_to(torch.zeros(2), torch.ones(2)), r"w and direction must be non-zero vectors"),
])
def test_bad_inputs_are_refused_with_the_argument_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
