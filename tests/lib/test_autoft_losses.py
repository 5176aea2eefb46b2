"""AutoFT's loss terms against hand computations, and the weighted objective."""

from __future__ import annotations

import math

import pytest
import torch

from robustbook.autoft import losses
from robustbook.autoft.losses import WeightedObjective

# two examples, three classes; example 0 is right (argmax 0 = y), example 1 wrong (argmax 0, y = 2)
LOGITS = torch.tensor([[2.0, 0.5, -1.0], [1.0, 3.0, 0.0]])
Y = torch.tensor([0, 2])


def _entropy(row: list[float]) -> float:
    z = [math.exp(v) for v in row]
    p = [v / sum(z) for v in z]
    return -sum(q * math.log(q) for q in p)


def test_hinge_by_hand():
    # ex 0: z_y = 2: relu(0.5 - 2 + 1) + relu(-1 - 2 + 1) = 0 + 0 = 0
    # ex 1: z_y = 0: relu(1 - 0 + 1) + relu(3 - 0 + 1) = 2 + 4 = 6   -> mean 3
    assert losses.hinge(LOGITS, Y).item() == pytest.approx(3.0)
    # margin 2: ex 0: relu(0.5) + relu(-1) = 0.5; ex 1: 3 + 5 = 8 -> mean 4.25
    assert losses.hinge(LOGITS, Y, margin=2.0).item() == pytest.approx(4.25)


def test_cross_entropy_and_entropy_by_hand():
    ce = [math.log(sum(math.exp(v) for v in row)) - row[y] for row, y in zip(LOGITS.tolist(), Y.tolist())]
    assert losses.cross_entropy(LOGITS, Y).item() == pytest.approx(sum(ce) / 2, rel=1e-6)
    h = [_entropy(row) for row in LOGITS.tolist()]
    assert losses.entropy(LOGITS).item() == pytest.approx(sum(h) / 2, rel=1e-6)


def test_dcm_counts_only_mistakes_with_a_minus_sign():
    # only example 1 is wrong: -(0 + H_1) / 2 (the mean runs over the whole batch)
    h1 = _entropy(LOGITS[1].tolist())
    assert losses.dcm(LOGITS, Y).item() == pytest.approx(-h1 / 2, rel=1e-6)
    # gradient descent on +dcm raises the entropy of the mistake
    z = LOGITS.clone().requires_grad_(True)
    losses.dcm(z, Y).backward()
    z2 = (LOGITS - 0.1 * z.grad)
    assert losses.entropy(z2[1:]).item() > losses.entropy(LOGITS[1:]).item()
    assert torch.all(z.grad[0] == 0)


def test_param_terms_divide_by_parameter_count():
    p = [torch.tensor([1.0, -2.0]), torch.tensor([[3.0]])]     # P = 3
    p0 = [torch.tensor([0.5, 0.0]), torch.tensor([[1.0]])]
    t = losses.param_terms(p, p0)
    assert t["l1init"].item() == pytest.approx((0.5 + 2 + 2) / 3)
    assert t["l1zero"].item() == pytest.approx((1 + 2 + 3) / 3)
    assert t["l2init"].item() == pytest.approx((0.25 + 4 + 4) / 3)
    assert t["l2zero"].item() == pytest.approx((1 + 4 + 9) / 3)


def test_weighted_objective_is_the_weighted_sum():
    params = [torch.tensor([1.0, -2.0], requires_grad=True)]
    p0 = [torch.tensor([0.0, 1.0])]
    w = {"ce": 1.0, "hinge": 0.3, "entropy": 0.0, "dcm": 2.0, "l2init": 0.7, "l1zero": 0.1}
    obj = WeightedObjective(w, p0)
    terms = obj.terms(LOGITS, Y, params)
    expected = sum(v * terms[k].item() for k, v in w.items())
    assert obj(LOGITS, Y, params).item() == pytest.approx(expected, rel=1e-6)
    # l2init: (1 + 9) / 2 = 5 -> contributes 3.5; θ₀ is a copy (changing params0 later does nothing)
    assert terms["l2init"].item() == pytest.approx(5.0)
    p0[0].add_(100.0)
    assert obj(LOGITS, Y, params).item() == pytest.approx(expected, rel=1e-6)


def test_ce_only_objective_equals_cross_entropy_and_unknown_terms_fail():
    obj = WeightedObjective({"ce": 1.0}, [torch.zeros(2)])
    assert obj(LOGITS, Y, [torch.ones(2)]).item() == pytest.approx(losses.cross_entropy(LOGITS, Y).item())
    with pytest.raises(ValueError, match="unknown loss terms"):
        WeightedObjective({"ce": 1.0, "flyp": 1.0}, [])
