"""robustbook.ensembles: the batched (vmapped) trainer equals a Python loop of separate models."""

import pytest
import torch
from torch import nn

from robustbook.ensembles import (
    Schedule,
    concat_schedules,
    epoch_grid,
    epoch_schedule,
    init_stacked,
    make_head,
    one_source_ensembles,
    predict_batched,
    train_batched,
    train_looped,
)


def _data(n=96, d=12, c=4):
    gen = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=gen), torch.randint(0, c, (n,), generator=gen)


def _mixed_schedule(n: int):
    """Six models: different epochs, two data orders, and two with their own subsets."""
    gen = torch.Generator().manual_seed(1)
    a = epoch_schedule(n, epochs=[1, 3, 2, 0], batch_size=16, order_seeds=[5, 5, 6, 7])
    subsets = [torch.randperm(n, generator=gen)[:40] for _ in range(2)]
    b = epoch_schedule(n, epochs=[4, 2], batch_size=16, order_seeds=[5, 5], subsets=subsets)
    return concat_schedules([a, b])


@pytest.mark.parametrize("make_model", [lambda: nn.Linear(12, 4),
                                        lambda: nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 4))])
def test_batched_training_equals_a_loop_of_separate_models(make_model):
    x, y = _data()
    schedule = _mixed_schedule(len(y))
    template, params = init_stacked(make_model, [10, 11, 12, 13, 14, 15])
    sgd = dict(lr=0.1, momentum=0.9, weight_decay=1e-3)
    batched = train_batched(template, params, x, y, schedule, **sgd)
    looped = train_looped(template, params, x, y, schedule, **sgd)
    for name in params:
        torch.testing.assert_close(batched[name], looped[name], atol=1e-5, rtol=1e-5)
        # the model with 0 epochs is untouched; the others moved
        torch.testing.assert_close(batched[name][3], params[name][3])
        assert not torch.equal(batched[name][0], params[name][0])
    logits = predict_batched(template, batched, x, batch_size=50)
    assert logits.shape == (6, len(y), 4)
    torch.testing.assert_close(logits.argmax(-1), predict_batched(template, looped, x).argmax(-1))


def test_schedule_counts_orders_and_subsets():
    s = epoch_schedule(50, epochs=[2, 1, 2], batch_size=8, order_seeds=[0, 0, 1])
    assert s.batches.shape == (3, 12, 8)                    # 6 full batches per epoch, last dropped
    assert s.steps().tolist() == [12, 6, 12]
    assert torch.equal(s.batches[0, :6], s.batches[1, :6])  # same order seed, same order
    assert not torch.equal(s.batches[0], s.batches[2])
    subset = torch.arange(10, 26)
    t = epoch_schedule(50, epochs=[3], batch_size=8, order_seeds=[0], subsets=[subset])
    assert set(t.batches[0].flatten().tolist()) == set(subset.tolist())
    with pytest.raises(ValueError, match="cannot fill a batch"):
        epoch_schedule(50, epochs=[1], batch_size=8, order_seeds=[0], subsets=[torch.arange(4)])


def test_init_stacked_seeds_each_model_and_leaves_global_rng_alone():
    before = torch.random.get_rng_state()
    _, params = init_stacked(lambda: nn.Linear(3, 2), [1, 2, 1])
    assert torch.equal(torch.random.get_rng_state(), before)
    w = params["weight"]
    assert w.shape == (3, 2, 3) and torch.equal(w[0], w[2]) and not torch.equal(w[0], w[1])
    torch.manual_seed(1)
    assert torch.equal(nn.Linear(3, 2).weight.detach(), w[0])


def test_epoch_grid_rounds_an_even_spread_and_hits_both_ends():
    assert epoch_grid(2, 9, 4) == [2, 4, 7, 9]          # 2, 4.33, 6.67, 9 (floor would give 6)
    assert epoch_grid(1, 16, 24)[0] == 1 and epoch_grid(1, 16, 24)[-1] == 16
    assert epoch_grid(3, 3, 2) == [3, 3]
    with pytest.raises(ValueError, match="min <= max"):
        epoch_grid(5, 2, 3)


def test_make_head_scales_torchs_default_init():
    torch.manual_seed(0)
    plain = nn.Linear(100, 7)
    torch.manual_seed(0)
    head = make_head(100, 7, 3.0)
    torch.testing.assert_close(head.weight, 3.0 * plain.weight)
    torch.testing.assert_close(head.bias, 3.0 * plain.bias)
    assert head.weight.abs().max() <= 3.0 / 100 ** 0.5    # uniform in +-scale / sqrt(d_in)
    assert head.weight.abs().max() > 0.9 * 3.0 / 100 ** 0.5


def test_one_source_ensembles_vary_exactly_one_source_of_randomness():
    n, k = 200, 4
    plans = one_source_ensembles(n, epochs=[1, 2, 2, 3], batch_size=10, subset_fraction=0.25,
                                 member_seeds=[11, 12, 13, 14], shared_seed=7, subset_seed=3)
    inits, heads = plans["random_head"]
    assert inits == [11, 12, 13, 14]                       # own inits ...
    assert torch.equal(heads.batches[1, :20], heads.batches[2, :20])  # ... one shared data order
    assert heads.steps().tolist() == [20, 40, 40, 60]
    inits, order = plans["data_order"]
    assert inits == [7] * k                                 # one shared init ...
    assert not torch.equal(order.batches[1, :20], order.batches[2, :20])  # ... own data orders
    assert order.steps().tolist() == [20, 40, 40, 60]
    inits, subset = plans["data_subset"]
    assert inits == [7] * k
    # own subsets of round(0.25 * 200) = 50 examples, trained 4x the epochs: the same step counts
    assert subset.steps().tolist() == [20, 40, 40, 60]
    pools = [set(subset.batches[m, :5].flatten().tolist()) for m in range(k)]
    assert all(len(p) == 50 for p in pools) and pools[0] != pools[1]
    for m in range(k):
        assert set(subset.batches[m, : int(subset.steps()[m])].flatten().tolist()) == pools[m]
    with pytest.raises(ValueError, match="one member seed per model"):
        one_source_ensembles(n, epochs=[1, 2], batch_size=10, subset_fraction=0.5, member_seeds=[1],
                             shared_seed=0, subset_seed=0)


def _heads(k=2):
    return init_stacked(lambda: nn.Linear(3, 2), list(range(k)))


def _train(trainer=train_batched, k=2, n=8, **overrides):
    template, params = _heads(k)
    x, y = torch.zeros(n, 3), torch.zeros(n, dtype=torch.long)
    schedule = epoch_schedule(8, epochs=[1] * 2, batch_size=4, order_seeds=[0, 1])
    kw = dict(x=x, y=y, schedule=schedule, lr=0.1)
    kw.update(overrides)
    return lambda: trainer(template, params, **kw)


@pytest.mark.parametrize("call, message", [
    (lambda: Schedule(torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.bool)),
     r"Schedule batches must be \(K models, S steps, B batch\), got shape \(2, 3\)"),
    (lambda: Schedule(torch.zeros(2, 3, 4, dtype=torch.long), torch.ones(2, 4, dtype=torch.bool)),
     r"Schedule active must be \(K, S\) = \(2, 3\) like batches, got shape \(2, 4\)"),
    (lambda: epoch_schedule(8, epochs=[1, 1], batch_size=4, order_seeds=[0]),
     r"one entry per model, got 2 epochs, 1 order_seeds"),
    (lambda: epoch_schedule(8, epochs=[], batch_size=4, order_seeds=[]), r"epochs must not be empty"),
    (lambda: epoch_schedule(8, epochs=[1, -1], batch_size=4, order_seeds=[0, 1]),
     r"epochs\[1\] must be an integer >= 0, got -1"),
    (lambda: epoch_schedule(8, epochs=[1.5], batch_size=4, order_seeds=[0]),
     r"epochs\[0\] must be an integer >= 0, got 1.5"),
    (lambda: epoch_schedule(8, epochs=[1], batch_size=0, order_seeds=[0]), r"batch_size must be an integer >= 1, got 0"),
    (lambda: epoch_schedule(-8, epochs=[1], batch_size=4, order_seeds=[0]), r"n must be an integer >= 0, got -8"),
    (lambda: epoch_schedule(8, epochs=[1], batch_size=4, order_seeds=[0], subsets=[torch.tensor([0, 8])]),
     r"subsets\[0\] must be a 1-D integer index tensor with entries in \[0, n=8\).*range \[0, 8\]"),
    (lambda: epoch_schedule(8, epochs=[1], batch_size=4, order_seeds=[0], subsets=[torch.tensor([0.5, 1.0])]),
     r"subsets\[0\] must be a 1-D integer index tensor.*torch.float32"),
    (lambda: epoch_schedule(8, epochs=[1], batch_size=4, order_seeds=[0], subsets=[torch.arange(3)]),
     r"3 examples cannot fill a batch of 4"),
    (lambda: init_stacked(lambda: nn.Linear(3, 2), []), r"seeds must not be empty"),
    (_train(lr=-0.1), r"lr must be a finite number in \[0, inf\), got -0.1"),
    (_train(lr=float("nan")), r"lr must be a finite number in \[0, inf\), got nan"),
    (_train(momentum=-0.5), r"momentum must be a finite number in \[0, inf\), got -0.5"),
    (_train(weight_decay=-1e-4), r"weight_decay must be a finite number in \[0, inf\), got -0.0001"),
    (_train(k=3), r"params stack 3 models but the schedule plans 2"),
    (_train(y=torch.zeros(7, dtype=torch.long)), r"x, y of equal length, got x=8, y=7"),
    (_train(y=torch.zeros(8, 2)), r"y must be 1-D class labels \(N,\), got shape \(8, 2\)"),
    (_train(n=6, x=torch.zeros(6, 3), y=torch.zeros(6, dtype=torch.long)),
     r"schedule indexes example 7 but x has only 6 examples"),
    (_train(train_looped, lr=-0.1), r"lr must be a finite number in \[0, inf\), got -0.1"),
    (_train(train_looped, k=3), r"params stack 3 models but the schedule plans 2"),
    (_train(train_looped, n=6, x=torch.zeros(6, 3), y=torch.zeros(6, dtype=torch.long)),
     r"schedule indexes example 7 but x has only 6 examples"),
    (lambda: predict_batched(*_heads(), torch.zeros(4, 3), batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (lambda: predict_batched(_heads()[0], {}, torch.zeros(4, 3)), r"params must hold at least one stacked parameter"),
    (lambda: predict_batched(_heads()[0], {"weight": torch.zeros(2, 2, 3), "bias": torch.zeros(3, 2)},
                             torch.zeros(4, 3)), r"params must all be stacked \(K, ...\) with one K"),
    (lambda: concat_schedules([]), r"schedules must not be empty"),
    (lambda: concat_schedules([epoch_schedule(8, epochs=[1], batch_size=4, order_seeds=[0]),
                               epoch_schedule(8, epochs=[1], batch_size=2, order_seeds=[0])]),
     r"schedules must share one batch size, got \[2, 4\]"),
    (lambda: make_head(0, 2), r"d_in must be an integer >= 1, got 0"),
    (lambda: make_head(3, 0), r"n_classes must be an integer >= 1, got 0"),
    (lambda: make_head(3, 2, scale=float("inf")), r"scale must be a finite number in \(-inf, inf\), got inf"),
    (lambda: epoch_grid(1, 4, 0), r"n_models must be an integer >= 1, got 0"),
    (lambda: epoch_grid(-1, 4, 3), r"min_epochs must be an integer >= 0, got -1"),
    (lambda: epoch_grid(1, 4.5, 3), r"max_epochs must be an integer >= 0, got 4.5"),
    (lambda: epoch_grid(5, 4, 3), r"min <= max epochs, got min_epochs=5, max_epochs=4"),
    (lambda: one_source_ensembles(0, epochs=[1], batch_size=4, subset_fraction=0.5, member_seeds=[0],
                                  shared_seed=0, subset_seed=0), r"n_train must be an integer >= 1, got 0"),
    (lambda: one_source_ensembles(8, epochs=[1], batch_size=0, subset_fraction=0.5, member_seeds=[0],
                                  shared_seed=0, subset_seed=0), r"batch_size must be an integer >= 1, got 0"),
    (lambda: one_source_ensembles(8, epochs=[1], batch_size=4, subset_fraction=0.5, member_seeds=[0, 1],
                                  shared_seed=0, subset_seed=0), r"one member seed per model: 2 seeds, 1 models"),
    (lambda: one_source_ensembles(8, epochs=[1], batch_size=4, subset_fraction=float("nan"), member_seeds=[0],
                                  shared_seed=0, subset_seed=0), r"subset_fraction must be in \(0, 1\], got nan"),
    (lambda: one_source_ensembles(8, epochs=[1], batch_size=4, subset_fraction=1.5, member_seeds=[0],
                                  shared_seed=0, subset_seed=0), r"subset_fraction must be in \(0, 1\], got 1.5"),
])
def test_bad_inputs_are_refused_with_the_argument_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_an_empty_subset_is_refused_as_too_small_for_a_batch():
    with pytest.raises(ValueError, match="0 examples cannot fill a batch of 4"):
        epoch_schedule(8, epochs=[1], batch_size=4, order_seeds=[0], subsets=[[]])
