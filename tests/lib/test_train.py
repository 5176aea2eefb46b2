"""Training loop, models, penalties, runtime helpers."""

import pytest
import torch
import torch.nn.functional as F

from robustbook.models import MLP, TwoLayerLinear, resnet18_gn
from robustbook.optim.penalties import (
    feature_norm_penalty,
    last_layer_weight_penalty,
    make_penalized_step,
)
from robustbook.runtime import choose_device, set_threads
from robustbook.train import History, accuracy, fit, minibatches, standard_step


def test_minibatches_cover_every_index_once():
    batches = list(minibatches(10, 4, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))


def test_history_best_is_first_maximum():
    h = History()
    for v in (0.1, 0.5, 0.5, 0.2):
        h.record({"acc": v})
    assert h.best("acc") == (0.5, 1) and h.final("acc") == 0.2


def test_accuracy_handles_binary_and_multiclass():
    x = torch.tensor([[1.0], [-1.0], [2.0]])
    binary = TwoLayerLinear(1, 1)
    with torch.no_grad():
        binary.body.weight.fill_(1.0)
        binary.head.weight.fill_(1.0)
    assert accuracy(binary, x, torch.tensor([1, 0, 0])) == pytest.approx(2 / 3)
    multi = MLP(1, 4, 3)
    pred = multi(x).argmax(1)
    assert accuracy(multi, x, pred) == 1.0


def _fit_once(seed):
    torch.manual_seed(seed)
    x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    model = MLP(5, 8, 3)
    step = standard_step(model, torch.optim.SGD(model.parameters(), lr=0.1), F.cross_entropy)
    return fit(model, x, y, step, epochs=3, batch_size=16, generator=torch.Generator().manual_seed(seed),
               evaluate=lambda m: {"acc": accuracy(m, x, y)})


def test_fit_is_deterministic_and_records_each_epoch():
    a, b = _fit_once(0), _fit_once(0)
    assert a.metrics == b.metrics and a.train_loss == b.train_loss
    assert len(a.metrics["acc"]) == 4 and len(a.train_loss) == 3
    with pytest.raises(ValueError):
        fit(MLP(1, 1, 2), torch.zeros(1, 1), torch.zeros(1), lambda x, y: 0.0, epochs=1, batch_size=0,
            generator=torch.Generator())


def test_penalties_match_their_definitions_and_the_step_uses_them():
    h = torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    assert feature_norm_penalty(h).item() == pytest.approx(0.5 * (25 + 4) / 2)
    assert last_layer_weight_penalty(torch.ones(3, 2)).item() == pytest.approx(3.0)
    torch.manual_seed(0)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    plain, penalised = MLP(4, 6, 3), MLP(4, 6, 3)
    penalised.load_state_dict(plain.state_dict())
    for model, wp in ((plain, 0.0), (penalised, 1.0)):
        step = make_penalized_step(model, torch.optim.SGD(model.parameters(), lr=0.1), F.cross_entropy,
                                   weight_penalty=wp, feature_penalty=0.0)
        step(x, y)
    # The weight penalty shrinks the head: after one step the penalised head is smaller.
    assert penalised.head.weight.norm() < plain.head.weight.norm()
    with pytest.raises(ValueError):
        make_penalized_step(plain, None, F.cross_entropy, weight_penalty=-1.0, feature_penalty=0.0)


def test_resnet18_gn_shapes_and_per_example_independence():
    model = resnet18_gn(10, width=8).eval()
    x = torch.randn(3, 3, 32, 32)
    out = model(x)
    assert out.shape == (3, 10) and model.features(x).shape == (3, 64)
    torch.testing.assert_close(model(x[:1]), out[:1], rtol=1e-4, atol=1e-5)  # GroupNorm: no batch coupling


def test_device_and_threads_are_checked():
    assert choose_device("cpu").type == "cpu"
    assert choose_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device"):
        choose_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            choose_device("cuda")
    with pytest.raises(ValueError):
        set_threads(-1)


def _train_call(**overrides):
    model = MLP(2, 4, 3)
    kw = dict(x=torch.zeros(8, 2), y=torch.zeros(8, dtype=torch.long), step=lambda xb, yb: 0.0, epochs=1,
              batch_size=4, generator=torch.Generator().manual_seed(0))
    kw.update(overrides)
    return lambda: fit(model, **kw)


def _history(**metrics):
    h = History()
    h.metrics.update(metrics)
    return h


@pytest.mark.parametrize("call, error, message", [
    (lambda: list(minibatches(10, 0, torch.Generator())), ValueError, r"batch_size must be an integer >= 1, got 0"),
    (lambda: list(minibatches(-1, 4, torch.Generator())), ValueError, r"n must be an integer >= 0, got -1"),
    (lambda: list(minibatches(10, 2.5, torch.Generator())), ValueError, r"batch_size must be an integer >= 1, got 2.5"),
    (lambda: accuracy(MLP(1, 2, 2), torch.zeros(3, 1), torch.zeros(2)), ValueError, r"x, y of equal length, got x=3, y=2"),
    (lambda: accuracy(MLP(1, 2, 2), torch.zeros(0, 1), torch.zeros(0)), ValueError, r"y must not be empty"),
    (lambda: accuracy(MLP(1, 2, 2), torch.zeros(3, 1), torch.zeros(3), batch_size=0), ValueError, r"batch_size must be an integer >= 1, got 0"),
    (_train_call(epochs=-1), ValueError, r"epochs must be an integer >= 0, got -1"),
    (_train_call(epochs=2.5), ValueError, r"epochs must be an integer >= 0, got 2.5"),
    (_train_call(batch_size=0), ValueError, r"batch_size must be an integer >= 1, got 0"),
    (_train_call(y=torch.zeros(7, dtype=torch.long)), ValueError, r"x, y of equal length, got x=8, y=7"),
    (_train_call(x=torch.zeros(0, 2), y=torch.zeros(0, dtype=torch.long)), ValueError, r"x must not be empty"),
    (lambda: _history(acc=[0.5]).best("accuracy"), KeyError, r"no metric 'accuracy' recorded; known metrics: \['acc'\]"),
    (lambda: _history(acc=[]).final("acc"), ValueError, r"metric 'acc' has no values recorded yet"),
    (lambda: _history(acc=[]).best("acc"), ValueError, r"metric 'acc' has no values recorded yet"),
])
def test_bad_inputs_are_refused_with_the_argument_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_fit_with_no_epochs_on_no_data_still_evaluates_once():
    h = fit(MLP(2, 4, 3), torch.zeros(0, 2), torch.zeros(0, dtype=torch.long), lambda xb, yb: 0.0, epochs=0,
            batch_size=4, generator=torch.Generator(), evaluate=lambda m: {"acc": 1.0})
    assert h.metrics == {"acc": [1.0]} and h.train_loss == []
