"""robustbook.tta: BN_Adapt, TENT (configure/collect/check, reset, entropy descent), ETA's filter,
the grouped BatchNorm zoo (each grouped model equals its standalone twin), and the single-scaling
feature measures, against hand computations."""

import copy
import math

import pytest
import torch
from torch import nn

from robustbook.tta import (
    Arch,
    Eta,
    GroupedCNN,
    GroupedLinear,
    GroupedMLP,
    Tent,
    adapt,
    batches,
    bn_adapt,
    check_model,
    class_means,
    collect_params,
    configure_model,
    entropy_loss,
    eta_filter,
    predict,
    scaling_fit,
    softmax_entropy,
    stack_states,
    train_snapshots,
    update_moving_probs,
    use_batch_statistics,
)


def small_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.ReLU(), nn.Linear(7, 3))
    net.train()
    for _ in range(3):  # non-trivial running statistics
        net(torch.randn(16, 5) * 2 + 1)
    return net.eval()


def test_entropy_by_hand():
    p = torch.tensor([[0.25, 0.75], [0.5, 0.5]])
    h = softmax_entropy(p.log())
    assert torch.allclose(h, torch.tensor([-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), math.log(2)]))
    # (B=2, K=2, C): mean over the batch, sum over models
    logits = torch.stack([p.log(), p.log().flip(0)], dim=1)  # model 0: rows (a, b); model 1: (b, a)
    assert entropy_loss(logits).item() == pytest.approx(float(h.sum()))  # 2 models x mean(h)
    assert entropy_loss(p.log()).item() == pytest.approx(float(h.mean()))


def test_batch_statistics_by_hand():
    net = small_net()
    x = torch.randn(10, 5) + 3.0
    adapted = bn_adapt(net)
    assert net[1].running_mean is not None and not net[1].training   # the original is untouched
    h = net[0](x)
    bn = net[1]
    manual = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + bn.eps) * bn.weight + bn.bias
    expected = net[3](torch.relu(manual))
    assert torch.allclose(adapted(x), expected, atol=1e-5)
    assert not torch.allclose(net(x), expected, atol=1e-3)             # running stats differ
    with pytest.raises(ValueError, match="BatchNorm"):
        use_batch_statistics(nn.Linear(2, 2))


def test_configure_collect_check():
    net = configure_model(small_net())
    params, names = collect_params(net)
    assert names == ["1.weight", "1.bias"]
    assert [n for n, p in net.named_parameters() if p.requires_grad] == ["1.weight", "1.bias"]
    check_model(net)
    with pytest.raises(AssertionError, match="batch statistics"):
        check_model(small_net())
    bad = configure_model(small_net())
    bad[0].weight.requires_grad_(True)
    with pytest.raises(AssertionError, match=r"also trainable: \['0.weight'\]"):
        check_model(bad)


def test_tent_lowers_entropy_touches_only_bn_and_resets():
    net = configure_model(small_net())
    before = copy.deepcopy(net.state_dict())
    tent = Tent(net, torch.optim.SGD(collect_params(net)[0], lr=0.5), steps=5)
    x = torch.randn(32, 5)
    h0 = entropy_loss(net(x)).item()
    tent(x)
    h1 = entropy_loss(net(x)).item()
    assert h1 < h0 - 1e-3
    after = net.state_dict()
    assert torch.equal(after["0.weight"], before["0.weight"]) and torch.equal(after["3.bias"], before["3.bias"])
    assert not torch.equal(after["1.weight"], before["1.weight"])
    tent.reset()
    assert all(torch.equal(net.state_dict()[k], v) for k, v in before.items())
    with pytest.raises(ValueError, match="steps"):
        Tent(net, torch.optim.SGD(collect_params(net)[0], lr=0.1), steps=0)


def test_eta_filter_by_hand():
    probs = torch.tensor([[0.9, 0.05, 0.05], [0.34, 0.33, 0.33], [0.05, 0.9, 0.05]])
    logits = probs.log()
    ent = softmax_entropy(logits)
    e0 = 0.4 * math.log(3)
    w, keep = eta_filter(logits, e0)
    assert keep.tolist() == [True, False, True]                    # the near-uniform one is unreliable
    assert w[0].item() == pytest.approx(math.exp(e0 - ent[0].item()))
    assert w[1].item() == 0
    # redundancy: a moving average equal to sample 0's prediction drops sample 0 (cos = 1), not 2
    moving = probs[0]
    _, keep2 = eta_filter(logits, e0, d_margin=0.99, moving_probs=moving)
    assert keep2.tolist() == [False, False, True]


def test_moving_probs_and_eta_loss():
    probs = torch.tensor([[0.8, 0.2], [0.6, 0.4], [0.5, 0.5]])
    keep = torch.tensor([True, True, False])
    m1 = update_moving_probs(None, probs.log(), keep)
    assert torch.allclose(m1, torch.tensor([0.7, 0.3]))
    m2 = update_moving_probs(m1, probs.log(), torch.tensor([False, False, True]))
    assert torch.allclose(m2, 0.9 * torch.tensor([0.7, 0.3]) + 0.1 * torch.tensor([0.5, 0.5]))
    net = configure_model(small_net())
    eta = Eta(net, torch.optim.SGD(collect_params(net)[0], lr=0.1), n_classes=3, d_margin=1.1)
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 5.0, 0.0]])
    ent = softmax_entropy(logits)
    w = torch.exp(eta.e_margin - ent) * (ent < eta.e_margin)
    assert eta.loss(logits).item() == pytest.approx(float((w * ent).sum() / 2), rel=1e-6)


def _standalone_mlp(g: GroupedMLP, k: int) -> nn.Sequential:
    lin, bn, head = g.body[0], g.body[1], g.head
    w = bn.num_features // g.k
    net = nn.Sequential(nn.Linear(lin.weight.shape[1], w), nn.BatchNorm1d(w), nn.ReLU(), nn.Linear(w, head.weight.shape[2]))
    with torch.no_grad():
        net[0].weight.copy_(lin.weight[k].T)
        net[0].bias.copy_(lin.bias[k])
        net[1].weight.copy_(bn.weight[k * w:(k + 1) * w])
        net[1].bias.copy_(bn.bias[k * w:(k + 1) * w])
        net[3].weight.copy_(head.weight[k].T)
        net[3].bias.copy_(head.bias[k])
    return net


def test_grouped_mlp_equals_standalone_models():
    torch.manual_seed(1)
    g = GroupedMLP(k=3, d_in=16, width=6, depth=1, n_classes=4)
    x = torch.rand(12, 1, 4, 4)
    out = g(x)                                                     # training mode: batch statistics
    assert out.shape == (12, 3, 4)
    for k in (0, 2):
        assert torch.allclose(out[:, k], _standalone_mlp(g, k)(x.reshape(12, -1)), atol=1e-5)


def test_grouped_cnn_members_are_independent():
    torch.manual_seed(2)
    g = GroupedCNN(k=3, width=2, depth=2, n_classes=4)
    x = torch.rand(8, 1, 8, 8)
    out = g(x)
    assert out.shape == (8, 3, 4) and g.features(x).shape == (8, 3, 4)
    out[:, 0].sum().backward()
    conv2 = g.body[4]                                              # grouped conv: rows of model k
    rows = conv2.weight.shape[0] // 3
    assert conv2.weight.grad[:rows].abs().sum() > 0
    assert conv2.weight.grad[rows:].abs().sum() == 0               # models 1, 2 get no gradient
    assert g.body[1].weight.grad[2:].abs().sum() == 0
    with torch.no_grad():                                          # change model 1: model 0, 2 keep outputs
        g.body[0].weight[2:4] += 1.0
    out2 = g(x)
    assert torch.allclose(out2[:, 0], out[:, 0].detach(), atol=1e-6)
    assert torch.allclose(out2[:, 2], out[:, 2].detach(), atol=1e-6)
    assert not torch.allclose(out2[:, 1], out[:, 1].detach(), atol=1e-3)


def test_grouped_linear_by_hand():
    lin = GroupedLinear(2, 3, 2)
    x = torch.randn(4, 2, 3)
    for k in range(2):
        assert torch.allclose(lin(x)[:, k], x[:, k] @ lin.weight[k] + lin.bias[k], atol=1e-6)


def test_snapshots_and_stacking():
    torch.manual_seed(3)
    arch = Arch("mlp", 8, 1)
    x, y = torch.rand(64, 1, 4, 4), torch.randint(0, 3, (64,))
    model = arch.build(2, 4, 3)
    states = train_snapshots(model, x, y, (3, 1), batch_size=16, lr=0.05, generator=torch.Generator().manual_seed(0))
    assert len(states) == 2
    assert not torch.equal(states[0]["head.weight"], states[1]["head.weight"])
    big = arch.build(4, 4, 3)
    big.load_state_dict(stack_states(states))
    big.eval()
    parts = []
    for st in states:
        m = arch.build(2, 4, 3)
        m.load_state_dict(st)
        parts.append(m.eval()(x))
    assert torch.allclose(big(x), torch.cat(parts, dim=1), atol=1e-5)
    with pytest.raises(ValueError, match="snapshots"):
        train_snapshots(model, x, y, (0,), 16, 0.1, torch.Generator())
    with pytest.raises(ValueError, match="unknown architecture"):
        Arch("rnn", 4, 1).build(1, 4, 3)


def test_adapt_predict_and_batches():
    assert [len(b) for b in batches(torch.zeros(401, 2), 200)] == [200, 201]
    assert [len(b) for b in batches(torch.zeros(450, 2), 200)] == [200, 200, 50]
    torch.manual_seed(4)
    g = Arch("cnn", 2, 1).build(2, 8, 3).eval()
    x = torch.rand(30, 1, 8, 8) * 0.2 + 0.5
    before = copy.deepcopy(g.state_dict())
    for method in ("plain", "bn_adapt", "tent", "eta"):
        m = adapt(g, method, x, batch_size=10, lr=0.1, passes=2, n_classes=3)
        logits, feats = predict(m, x, 10, with_features=True)
        assert logits.shape == (2, 30, 3) and feats.shape == (2, 30, 2)
        if method == "tent":
            assert not torch.equal(m.state_dict()["body.1.weight"], before["body.1.weight"])
            assert torch.equal(m.state_dict()["body.0.weight"], before["body.0.weight"])
    assert all(torch.equal(g.state_dict()[k], v) for k, v in before.items())
    with pytest.raises(ValueError, match="unknown TTA method"):
        adapt(g, "shot", x, batch_size=10)


def test_scaling_fit_recovers_alpha_gamma():
    gen = torch.Generator().manual_seed(5)
    c, d, per = 3, 4, 50
    mu = torch.randn(c, d, generator=gen) * 3
    mu -= mu.mean(0)                                   # dataset mean 0
    e = torch.randn(c, per, d, generator=gen)
    e -= e.mean(1, keepdim=True)                       # noise with zero class means
    y = torch.arange(c).repeat_interleave(per)
    f_id = (mu[:, None] + e).reshape(-1, d)
    t = torch.tensor([1.0, -2.0, 0.0, 0.5])
    f_ood = (0.6 * mu[:, None] + 1.5 * e + t).reshape(-1, d)
    fit = scaling_fit(f_id, y, f_ood, y, c)
    assert fit.alpha == pytest.approx(0.6, abs=1e-6) and fit.gamma == pytest.approx(1.5, abs=1e-6)
    assert fit.mean_residual < 1e-10 and fit.cov_residual < 1e-10
    s_id = (e.reshape(-1, d).double().T @ e.reshape(-1, d).double()) / (c * per)
    assert fit.offset == pytest.approx(float(t.norm() / torch.trace(s_id).sqrt()), rel=1e-6)
    assert fit.slope == pytest.approx(0.4, rel=1e-6)
    swapped = (mu[[1, 0, 2]][:, None] + e).reshape(-1, d)   # class means permuted: not a scaling
    bad = scaling_fit(f_id, y, swapped, y, c)
    m = mu.double()
    alpha = float((m[[1, 0, 2]] * m).sum() / (m * m).sum())
    assert bad.alpha == pytest.approx(alpha, rel=1e-6) and bad.mean_residual > 0.05


def test_class_means_needs_every_class():
    assert torch.allclose(class_means(torch.tensor([[1.0], [3.0], [5.0]]), torch.tensor([0, 0, 1]), 2),
                          torch.tensor([[2.0], [5.0]]))
    with pytest.raises(ValueError, match=r"classes without samples: \[2\]"):
        class_means(torch.zeros(2, 1), torch.tensor([0, 1]), 3)
