"""robustbook.optim refuses bad inputs at the door, naming the argument (issue 19)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from robustbook.models import MLP, TwoLayerLinear
from robustbook.optim import SAM, family_gradient, frozen_bn_stats, set_gradients
from robustbook.optim.penalties import (
    feature_norm_penalty,
    jsam_two_layer_penalty,
    last_layer_weight_penalty,
    make_penalized_step,
)
from robustbook.optim.sam_family import linear_sam_weights, make_family_step
from robustbook.optim.schedule import warmup_cosine, warmup_cosine_factor


def _net():
    return nn.Linear(3, 2)


def _sgd():
    return torch.optim.SGD(_net().parameters(), lr=0.1)


def _frozen(model):
    with frozen_bn_stats(model):
        pass


def _family(**overrides):
    kw = dict(variant="sam", rho=0.1)
    kw.update(overrides)
    x, y = kw.pop("x", torch.zeros(4, 3)), kw.pop("y", torch.zeros(4, dtype=torch.long))
    return lambda: family_gradient(_net(), F.cross_entropy, x, y, **kw)


@pytest.mark.parametrize("call, error, message", [
    (lambda: SAM(_net().parameters(), torch.optim.SGD, rho=-0.1, lr=0.1), ValueError, r"rho must be a finite number >= 0.*got -0.1"),
    (lambda: SAM(_net().parameters(), torch.optim.SGD, rho=float("nan"), lr=0.1), ValueError, r"rho must be a finite number >= 0.*got nan"),
    (lambda: SAM(_net().parameters(), torch.optim.SGD, rho="0.05", lr=0.1), ValueError, r"rho must be a finite number >= 0.*got '0.05'"),
    (lambda: SAM(_net().parameters(), _sgd(), rho=0.1), TypeError, r"base_optimizer must be an optimizer class .* not an instance \(SGD\)"),
    (lambda: SAM(_net().parameters(), "sgd", rho=0.1), TypeError, r"base_optimizer must be an optimizer class .* got 'sgd'"),
    (lambda: SAM(_net().parameters(), torch.optim.SGD, rho=0.1, lr=-1.0), ValueError, r"Invalid learning rate"),
    (lambda: SAM(_net().parameters(), torch.optim.SGD, rho=0.1, lr=0.1).step(), ValueError, r"SAM.step needs a closure"),
    (lambda: SAM(_net().parameters(), torch.optim.SGD, rho=0.1, lr=0.1).first_step(), RuntimeError, r"call backward\(\) first"),
    (lambda: _frozen(_net().parameters()), TypeError, r"model must be a torch.nn.Module, got generator"),
    (_family(variant="asam"), ValueError, r"variant must be one of \('sgd', 'sam', 'lsam', 'jsam'\), got 'asam'"),
    (_family(rho=-1.0), ValueError, r"rho must be a finite number >= 0.*got -1.0"),
    (_family(rho=float("inf")), ValueError, r"rho must be a finite number >= 0.*got inf"),
    (_family(chunk_size=0), ValueError, r"chunk_size must be None or an integer >= 1, got 0"),
    (_family(y=torch.zeros(3, dtype=torch.long)), ValueError, r"need x, y of equal length, got x=4, y=3"),
    (lambda: make_family_step(_net(), _sgd(), F.cross_entropy, variant="SAM", rho=0.1), ValueError, r"variant must be one of"),
    (lambda: make_family_step(_net(), _sgd(), F.cross_entropy, variant="sam", rho=float("nan")), ValueError, r"rho must be a finite number >= 0"),
    (lambda: set_gradients(_net(), {"weight": torch.zeros(2, 3)}), ValueError, r"grads lacks the model's parameters \['bias'\]; it has \['weight'\]"),
    (lambda: linear_sam_weights(torch.zeros(4, 1), torch.ones(4), torch.ones(4), 0.1), ValueError, r"logits, signs and x_norms must all be \(N,\), got \(4, 1\), \(4,\), \(4,\)"),
    (lambda: linear_sam_weights(torch.zeros(4), torch.ones(4), torch.ones(4), -0.1), ValueError, r"rho must be a finite number >= 0"),
    (lambda: feature_norm_penalty(torch.zeros(4, 2, 3)), ValueError, r"features must be \(B, D\) penultimate activations, got shape \(4, 2, 3\)"),
    (lambda: last_layer_weight_penalty(torch.zeros(3)), ValueError, r"weight must be the last layer's \(C, D\) weight matrix, got shape \(3,\)"),
    (lambda: make_penalized_step(MLP(2, 4, 3), None, F.cross_entropy, weight_penalty=-1.0, feature_penalty=0.0), ValueError, r"weight_penalty must be a finite number in \[0, inf\), got -1.0"),
    (lambda: make_penalized_step(MLP(2, 4, 3), None, F.cross_entropy, weight_penalty=0.0, feature_penalty=float("nan")), ValueError, r"feature_penalty must be a finite number in \[0, inf\), got nan"),
    (lambda: make_penalized_step(_net(), None, F.cross_entropy, weight_penalty=0.1, feature_penalty=0.1), TypeError, r"model must expose features\(x\) and a linear head \(with .weight\), got Linear"),
    (lambda: jsam_two_layer_penalty(TwoLayerLinear(3, 2), torch.zeros(4, 3), torch.ones(4), -0.5), ValueError, r"rho must be a finite number >= 0"),
    (lambda: jsam_two_layer_penalty(TwoLayerLinear(3, 2), torch.zeros(4, 3), torch.ones(3), 0.5), ValueError, r"signs must be \(N,\) = \(4,\) like x, got shape \(3,\)"),
    (lambda: jsam_two_layer_penalty(TwoLayerLinear(3, 2), torch.zeros(3), torch.ones(3), 0.5), ValueError, r"x must be \(N, d\), got shape \(3,\)"),
    (lambda: warmup_cosine_factor(0, 0), ValueError, r"total_steps must be a finite number >= 1, got 0"),
    (lambda: warmup_cosine_factor(0, float("nan")), ValueError, r"total_steps must be a finite number >= 1, got nan"),
    (lambda: warmup_cosine_factor(0, 10, -1), ValueError, r"warmup_steps must be a finite number >= 0, got -1"),
    (lambda: warmup_cosine_factor(-1, 10), ValueError, r"step must be >= 0 \(0-based\), got -1"),
    (lambda: warmup_cosine(_sgd(), 0), ValueError, r"total_steps must be a finite number >= 1, got 0"),
    (lambda: warmup_cosine(_sgd(), 10, warmup_steps=None), ValueError, r"warmup_steps must be a finite number >= 0, got None"),
])
def test_bad_inputs_are_refused_with_the_argument_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_rho_zero_and_float_step_counts_stay_valid():
    assert SAM(_net().parameters(), torch.optim.SGD, rho=0.0, lr=0.1).param_groups[0]["rho"] == 0.0
    assert warmup_cosine_factor(0, 10.0, 0) == warmup_cosine_factor(0, 10, 0) == 1.0
