"""SAM-family gradients (robustbook.optim.family_gradient) against hand computations."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from robustbook.models import LinearClassifier, TwoLayerLinear
from robustbook.optim import SAM, family_gradient
from robustbook.optim.penalties import jsam_two_layer_penalty
from robustbook.optim.sam_family import linear_sam_weights

BCE = F.binary_cross_entropy_with_logits


def _binary(n=12, d=6, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randint(0, 2, (n,), generator=g).to(dtype)


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 9), nn.Tanh(), nn.Linear(9, 4)).double()


@pytest.mark.parametrize("per_example", [False, True])
@pytest.mark.parametrize("variant", ["sam", "lsam", "jsam"])
def test_rho_zero_gives_sgd_gradient_exactly(variant, per_example):
    model = _mlp()
    x, _ = _binary()
    y = torch.arange(12) % 4
    sgd = family_gradient(model, F.cross_entropy, x, y, variant="sgd", rho=0.0)
    other = family_gradient(model, F.cross_entropy, x, y, variant=variant, rho=0.0, per_example=per_example)
    for k in sgd:
        torch.testing.assert_close(other[k], sgd[k], rtol=0, atol=1e-15)


def test_batch_sam_gradient_matches_sam_optimizer():
    """The functional mini-batch SAM and the SAM optimizer compute the same gradient at w + eps."""
    model, rho = _mlp(), 0.3
    x, _ = _binary()
    y = torch.arange(12) % 4
    functional = family_gradient(model, F.cross_entropy, x, y, variant="sam", rho=rho, per_example=False)
    opt = SAM(model.parameters(), torch.optim.SGD, rho=rho, lr=0.1)
    F.cross_entropy(model(x), y).backward()
    opt.first_step(zero_grad=True)
    F.cross_entropy(model(x), y).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(functional[name], p.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("per_example", [False, True])
def test_linear_model_jsam_is_sgd_and_sam_is_lsam(per_example):
    """f = <w, x> has a constant Jacobian, so perturbing it changes nothing."""
    torch.manual_seed(0)
    model = LinearClassifier(6).double()
    x, y = _binary()
    grads = {v: family_gradient(model, BCE, x, y, variant=v, rho=0.7, per_example=per_example)
             for v in ("sgd", "sam", "lsam", "jsam")}
    torch.testing.assert_close(grads["jsam"]["head.weight"], grads["sgd"]["head.weight"])
    torch.testing.assert_close(grads["sam"]["head.weight"], grads["lsam"]["head.weight"])
    assert not torch.allclose(grads["sam"]["head.weight"], grads["sgd"]["head.weight"])


def test_linear_one_sam_gradient_is_reweighted_sgd():
    """1-SAM on logistic regression: grad = -mean_i sigma(-t_i f_i + rho ||x_i||) t_i x_i."""
    torch.manual_seed(1)
    model = LinearClassifier(6).double()
    x, y = _binary(n=20)
    rho, t = 0.8, 2 * y - 1
    weights = linear_sam_weights(model(x).detach(), t, x.norm(dim=1), rho)
    expected = -(weights * t).unsqueeze(1).mul(x).mean(0)
    got = family_gradient(model, BCE, x, y, variant="sam", rho=rho, per_example=True)["head.weight"]
    torch.testing.assert_close(got.squeeze(0), expected)
    # rho = 0: the weights are SGD's sigma(-t f).
    torch.testing.assert_close(linear_sam_weights(model(x).detach(), t, x.norm(dim=1), 0.0),
                               torch.sigmoid(-t * model(x).detach()))


def _two_layer_by_hand(model, x, y, rho, variant):
    """1-SAM on f = v^T W x, each example by hand: df/dv = W x, df/dW = v x^T, r = -t sigma(-t f)."""
    W, v = model.body.weight.detach(), model.head.weight.detach().squeeze(0)
    t = 2 * y - 1
    gW, gv = torch.zeros_like(W), torch.zeros_like(v)
    for xi, ti in zip(x, t):
        f = v @ W @ xi
        r = -ti * torch.sigmoid(-ti * f)
        dv, dW = W @ xi, torch.outer(v, xi)                       # Jacobian at w
        norm = torch.sqrt((r * dv).pow(2).sum() + (r * dW).pow(2).sum())
        eps_v, eps_W = rho * r * dv / norm, rho * r * dW / norm   # eps = rho g / ||g||
        Wp, vp = W + eps_W, v + eps_v
        fp = vp @ Wp @ xi
        rp = -ti * torch.sigmoid(-ti * fp)
        jac_p = (Wp @ xi, torch.outer(vp, xi))                    # Jacobian at w + eps
        r_used, (jv, jW) = {"sam": (rp, jac_p), "lsam": (rp, (dv, dW)), "jsam": (r, jac_p)}[variant]
        gv += r_used * jv / len(x)
        gW += r_used * jW / len(x)
    return {"body.weight": gW, "head.weight": gv.unsqueeze(0)}


@pytest.mark.parametrize("variant", ["sam", "lsam", "jsam"])
def test_two_layer_linear_variants_match_hand_computation(variant):
    torch.manual_seed(2)
    model = TwoLayerLinear(6, 5).double()
    x, y = _binary(n=10, seed=3)
    got = family_gradient(model, BCE, x, y, variant=variant, rho=0.4, per_example=True)
    expected = _two_layer_by_hand(model, x, y, 0.4, variant)
    for k in expected:
        torch.testing.assert_close(got[k], expected[k], rtol=1e-10, atol=1e-12)


def test_jsam_equals_sgd_plus_closed_form_penalty():
    torch.manual_seed(4)
    model = TwoLayerLinear(6, 5).double()
    x, y = _binary(n=16, seed=5)
    jsam = family_gradient(model, BCE, x, y, variant="jsam", rho=0.3, per_example=True)
    (BCE(model(x), y) + jsam_two_layer_penalty(model, x, 2 * y - 1, 0.3)).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(jsam[name], p.grad, rtol=1e-10, atol=1e-13)


def test_per_example_differs_from_batch_but_not_for_one_example():
    model = _mlp()
    x, _ = _binary()
    y = torch.arange(12) % 4
    one = family_gradient(model, F.cross_entropy, x, y, variant="sam", rho=0.5, per_example=True)
    batch = family_gradient(model, F.cross_entropy, x, y, variant="sam", rho=0.5, per_example=False)
    assert not torch.allclose(one["2.weight"], batch["2.weight"])
    one = family_gradient(model, F.cross_entropy, x[:1], y[:1], variant="sam", rho=0.5, per_example=True)
    batch = family_gradient(model, F.cross_entropy, x[:1], y[:1], variant="sam", rho=0.5, per_example=False)
    for k in one:
        torch.testing.assert_close(one[k], batch[k])


def test_chunked_vmap_gives_the_same_gradient():
    model = _mlp()
    x, _ = _binary()
    y = torch.arange(12) % 4
    full = family_gradient(model, F.cross_entropy, x, y, variant="jsam", rho=0.5)
    chunked = family_gradient(model, F.cross_entropy, x, y, variant="jsam", rho=0.5, chunk_size=5)
    for k in full:
        torch.testing.assert_close(full[k], chunked[k])


def test_rejects_unknown_variant_and_negative_rho():
    model = _mlp()
    x, _ = _binary()
    y = torch.arange(12) % 4
    with pytest.raises(ValueError, match="variant"):
        family_gradient(model, F.cross_entropy, x, y, variant="asam", rho=0.1)
    with pytest.raises(ValueError, match="rho"):
        family_gradient(model, F.cross_entropy, x, y, variant="sam", rho=-1.0)


@pytest.mark.parametrize("variant", ["sgd", "sam", "lsam", "jsam"])
def test_inplace_and_functional_batch_paths_agree(variant):
    """Mini-batch gradients come from plain autograd (weights moved in place and restored); the
    torch.func path used for 1-SAM must give the same numbers on a whole batch."""
    from robustbook.optim.sam_family import _batch_gradient

    model = _mlp(3)
    x, _ = _binary(seed=7)
    y = torch.arange(12) % 4
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    inplace = family_gradient(model, F.cross_entropy, x, y, variant=variant, rho=0.6, per_example=False)
    for k, p in model.named_parameters():
        assert torch.equal(p, before[k]), "weights were not restored exactly"
    functional, _ = _batch_gradient(model, F.cross_entropy, variant, 0.6, before, {}, x, y)
    for k in inplace:
        torch.testing.assert_close(inplace[k], functional[k], rtol=1e-10, atol=1e-12)


def test_batchnorm_statistics_are_updated_once_per_step():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Linear(5, 3)).double()
    reference = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Linear(5, 3)).double()
    reference.load_state_dict(model.state_dict())
    x, _ = _binary()
    y = torch.arange(12) % 3
    family_gradient(model, F.cross_entropy, x, y, variant="sam", rho=0.5, per_example=False)
    reference(x)  # exactly one ordinary forward pass
    torch.testing.assert_close(model[1].running_mean, reference[1].running_mean)
    torch.testing.assert_close(model[1].running_var, reference[1].running_var)
