"""SAM optimizer (robustbook.optim.SAM) against hand computations and the pitfalls its users meet."""

import copy
import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from robustbook.optim import SAM, frozen_bn_stats


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))


def _data(seed=1, n=16):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g), torch.randint(0, 3, (n,), generator=g)


def _sam_step(model, opt, x, y):
    F.cross_entropy(model(x), y).backward()
    opt.first_step(zero_grad=True)
    F.cross_entropy(model(x), y).backward()
    opt.second_step(zero_grad=True)


def test_rho_zero_is_exactly_the_base_optimizer():
    x, y = _data()
    a, b = _net(), _net()
    sam = SAM(a.parameters(), torch.optim.SGD, rho=0.0, lr=0.1, momentum=0.9, weight_decay=5e-4)
    sgd = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    for _ in range(5):
        _sam_step(a, sam, x, y)
        sgd.zero_grad()
        F.cross_entropy(b(x), y).backward()
        sgd.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_first_step_moves_by_rho_times_normalised_gradient():
    x, y = _data()
    model, rho = _net(), 0.3
    sam = SAM(model.parameters(), torch.optim.SGD, rho=rho, lr=0.1)
    F.cross_entropy(model(x), y).backward()
    before = [p.detach().clone() for p in model.parameters()]
    grads = [p.grad.clone() for p in model.parameters()]
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    sam.first_step()
    for p, w, g in zip(model.parameters(), before, grads):
        torch.testing.assert_close(p - w, rho * g / norm, rtol=1e-5, atol=1e-7)
    moved = torch.sqrt(sum(((p - w) ** 2).sum() for p, w in zip(model.parameters(), before)))
    assert moved.item() == pytest.approx(rho, rel=1e-5)


def test_second_step_uses_gradient_at_perturbed_point_from_original_weights():
    x, y = _data()
    model, rho, lr = _net(), 0.2, 0.1
    reference = copy.deepcopy(model)
    sam = SAM(model.parameters(), torch.optim.SGD, rho=rho, lr=lr)
    _sam_step(model, sam, x, y)
    # By hand: eps = rho g / ||g||, gradient at w + eps, plain SGD step from w.
    params = list(reference.parameters())
    grads = torch.autograd.grad(F.cross_entropy(reference(x), y), params)
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    with torch.no_grad():
        for p, g in zip(params, grads):
            p.add_(rho * g / norm)
    grads_adv = torch.autograd.grad(F.cross_entropy(reference(x), y), params)
    with torch.no_grad():
        for p, g, ga in zip(params, grads, grads_adv):
            p.sub_(rho * g / norm).sub_(lr * ga)
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_step_with_closure_equals_two_explicit_steps():
    x, y = _data()
    a, b = _net(), _net()
    sa = SAM(a.parameters(), torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    sb = SAM(b.parameters(), torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    for _ in range(3):
        _sam_step(a, sa, x, y)
        F.cross_entropy(b(x), y).backward()

        def closure():
            loss = F.cross_entropy(b(x), y)
            loss.backward()
            return loss

        sb.step(closure)
        sb.zero_grad()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_adaptive_perturbation_is_scaled_by_weight_magnitude():
    x, y = _data()
    model, rho = _net(), 0.5
    sam = SAM(model.parameters(), torch.optim.SGD, rho=rho, adaptive=True, lr=0.1)
    F.cross_entropy(model(x), y).backward()
    w = [p.detach().clone() for p in model.parameters()]
    g = [p.grad.clone() for p in model.parameters()]
    norm = torch.sqrt(sum(((wi.abs() * gi) ** 2).sum() for wi, gi in zip(w, g)))
    sam.first_step()
    for p, wi, gi in zip(model.parameters(), w, g):
        torch.testing.assert_close(p - wi, rho * wi ** 2 * gi / norm, rtol=1e-4, atol=1e-7)


@pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")
def test_scheduler_on_base_optimizer_changes_sam_lr():
    model = _net()
    sam = SAM(model.parameters(), torch.optim.SGD, rho=0.1, lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(sam.base_optimizer, step_size=1, gamma=0.5)
    sam.base_optimizer.step()
    sched.step()
    assert sam.param_groups[0]["lr"] == 0.5 == sam.base_optimizer.param_groups[0]["lr"]
    sched2 = torch.optim.lr_scheduler.StepLR(sam, step_size=1, gamma=0.5)
    sam.base_optimizer.step()
    sched2.step()
    assert sam.base_optimizer.param_groups[0]["lr"] == 0.25


def test_state_dict_round_trip_resumes_identically():
    x, y = _data()
    a = _net()
    sa = SAM(a.parameters(), torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    for _ in range(3):
        _sam_step(a, sa, x, y)
    b = copy.deepcopy(a)
    sb = SAM(b.parameters(), torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    buffer = io.BytesIO()  # a real round trip through a checkpoint file
    torch.save(sa.state_dict(), buffer)
    buffer.seek(0)
    sb.load_state_dict(torch.load(buffer))
    assert any("momentum_buffer" in s for s in sb.state_dict()["state"].values())
    for _ in range(3):
        _sam_step(a, sa, x, y)
        _sam_step(b, sb, x, y)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_frozen_bn_stats_keeps_running_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Linear(4, 3))
    x, y = _data()
    model(x)  # one ordinary update of the running stats
    bn = model[1]
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    with frozen_bn_stats(model):
        model(x * 3 + 1)
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)
    assert bn.momentum == 0.1  # restored
    model(x * 3 + 1)
    assert not torch.equal(bn.running_mean, mean)


def test_rejects_negative_rho_and_missing_gradients():
    with pytest.raises(ValueError, match="rho"):
        SAM(_net().parameters(), torch.optim.SGD, rho=-0.1, lr=0.1)
    sam = SAM(_net().parameters(), torch.optim.SGD, rho=0.1, lr=0.1)
    with pytest.raises(RuntimeError, match="backward"):
        sam.first_step()
