"""Fine-tuning under the learned objective (the searched lr is applied), WiSE-FT, scores."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustbook.autoft import batch_indices, finetune, predict, score, wise_ft
from robustbook.optim.schedule import warmup_cosine_factor


def _data(n=40, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 1).long()


def _model(seed=1):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))


@pytest.mark.parametrize("lr", [3e-4, 2e-2])
def test_searched_lr_is_applied_every_step(lr):
    """Regression test for the official code's defect (its schedule ignores the searched lr)."""
    x, y = _data()
    run = finetune(_model(), x, y, weights={"ce": 1.0}, lr=lr, weight_decay=0.1, steps=7,
                   batch_size=8, seed=3, warmup_steps=2)
    assert run.lrs == pytest.approx([lr * warmup_cosine_factor(i, 7, 2) for i in range(7)])


def test_lr_and_weights_change_the_result_and_same_seed_repeats():
    x, y = _data()
    def params(**kw):
        m = _model()
        finetune(m, x, y, **{"weights": {"ce": 1.0}, "lr": 1e-2, "weight_decay": 0.0, "steps": 10,
                             "batch_size": 8, "seed": 0, **kw})
        return torch.cat([p.detach().flatten() for p in m.parameters()])
    base = params()
    assert torch.equal(base, params())
    assert not torch.allclose(base, params(lr=2e-2))
    assert not torch.allclose(base, params(weights={"ce": 1.0, "l2init": 5.0}))
    assert not torch.allclose(base, params(seed=1))


def test_l2init_weight_keeps_the_model_near_its_start():
    x, y = _data()
    dist = []
    for w in (0.0, 1e4):
        m = _model()
        p0 = [p.detach().clone() for p in m.parameters()]
        finetune(m, x, y, weights={"ce": 1.0, "l2init": w}, lr=5e-2, weight_decay=0.0, steps=30,
                 batch_size=8, seed=0)
        dist.append(sum((p - q).pow(2).sum().item() for p, q in zip(m.parameters(), p0)))
    assert dist[1] < 0.1 * dist[0]


def test_batch_indices_cover_each_pass_once():
    idx = batch_indices(10, steps=7, batch_size=3, generator=torch.Generator().manual_seed(0))
    assert idx.shape == (7, 3)
    first_pass = idx[:3].flatten()   # 3 batches of 3 per pass (one example left out)
    assert len(set(first_pass.tolist())) == 9


def test_wise_ft_interpolates_asymmetrically():
    t0 = {"w": torch.tensor([0.0, 2.0]), "n": torch.tensor(3)}
    t1 = {"w": torch.tensor([4.0, 6.0]), "n": torch.tensor(5)}
    out = wise_ft(t0, t1, 0.25)
    assert torch.allclose(out["w"], torch.tensor([1.0, 3.0]))   # 0.75·θ₀ + 0.25·θ₁
    assert out["n"].item() == 5
    assert torch.equal(wise_ft(t0, t1, 0.0)["w"], t0["w"]) and torch.equal(wise_ft(t0, t1, 1.0)["w"], t1["w"])
    with pytest.raises(ValueError):
        wise_ft(t0, {"w": t1["w"]}, 0.5)


def test_scores_by_hand():
    y = torch.tensor([0, 0, 0, 1, 2])
    pred = torch.tensor([0, 0, 1, 1, 1])
    assert score(pred, y) == pytest.approx(3 / 5)
    # F1: class 0: tp 2, 2·2/(2+3) = 0.8; class 1: tp 1, 2/(3+1) = 0.5; class 2: 0 -> mean 1.3/3
    assert score(pred, y, "macro_f1") == pytest.approx(1.3 / 3)
    with pytest.raises(ValueError):
        score(pred, y, "auc")
    m = nn.Linear(2, 2)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        m.bias.zero_()
    assert predict(m, torch.tensor([[2.0, 1.0], [0.0, 3.0]])).tolist() == [0, 1]
