"""robustbook.groups: group metrics, selection, JTT, the multitask loss and the batched trainer,
each against a hand computation or a one-model-at-a-time reference."""

import math

import pytest
import torch

from robustbook.groups import (
    MethodSpec,
    StackedMTL,
    average_accuracy,
    error_set,
    group_accuracy,
    group_ids,
    masked_units,
    mtl_loss,
    select_by_worst_group,
    synthetic_spurious_task,
    train_stacked,
    upsample_pool,
    worst_group_accuracy,
)
from robustbook.groups.data import digits_patch_task, patch_units
from robustbook.groups.jtt import train_jtt
from robustbook.groups.model import masked_reconstruction_loss
from robustbook.groups.train import selected


def test_group_ids_are_label_times_attributes_plus_attribute():
    y, a = torch.tensor([0, 0, 1, 1, 2]), torch.tensor([0, 1, 0, 1, 1])
    assert group_ids(y, a).tolist() == [0, 1, 2, 3, 5]
    assert group_ids(torch.tensor([1]), torch.tensor([2]), n_attributes=3).tolist() == [5]
    with pytest.raises(ValueError, match="attributes must lie"):
        group_ids(torch.tensor([0]), torch.tensor([2]))


def test_group_accuracy_by_hand_with_an_empty_group():
    # groups: 0 0 0 1 1 2 (group 3 empty); correct: T T F T F F
    groups = torch.tensor([0, 0, 0, 1, 1, 2])
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    pred = torch.tensor([0, 0, 1, 1, 0, 0])
    acc = group_accuracy(pred, y, groups, 4)
    assert acc[:3].tolist() == pytest.approx([2 / 3, 1 / 2, 0.0])
    assert math.isnan(acc[3])
    assert worst_group_accuracy(acc).item() == 0.0           # NaN (empty) is ignored, not the minimum
    assert average_accuracy(pred, y).item() == pytest.approx(3 / 6)
    # Batched over models with per-model labels: model 1 predicts everything right.
    batched = group_accuracy(torch.stack([pred, y]), torch.stack([y, y]), torch.stack([groups, groups]), 4)
    assert batched.shape == (2, 4) and batched[1, :3].tolist() == [1.0, 1.0, 1.0]


def test_worst_group_ignores_nan_and_takes_the_minimum_of_the_rest():
    acc = torch.tensor([[0.9, float("nan"), 0.4, 0.7], [0.2, 0.8, 0.9, 0.5]])
    assert worst_group_accuracy(acc).tolist() == pytest.approx([0.4, 0.2])


def test_selection_picks_best_validation_worst_group_ties_to_earliest_after_first():
    val = torch.tensor([[0.9, 0.5, 0.7, 0.7, 0.6],     # epoch 0 best overall, excluded by first=1
                        [0.1, 0.2, 0.3, 0.8, 0.8]])    # tie at 3 and 4 -> 3
    assert select_by_worst_group(val, first=1).tolist() == [2, 3]
    assert select_by_worst_group(val, first=0).tolist() == [0, 3]
    with pytest.raises(ValueError):
        select_by_worst_group(val, first=5)


def test_jtt_error_set_and_upsampled_pool_by_hand():
    pred, y = torch.tensor([1, 0, 0, 1, 1]), torch.tensor([1, 1, 0, 0, 1])
    errors = error_set(pred, y)
    assert errors.tolist() == [1, 3]
    pool = upsample_pool(5, errors, up=4)
    assert len(pool) == 5 + 3 * 2
    assert torch.bincount(pool, minlength=5).tolist() == [1, 4, 1, 4, 1]  # errors drawn 4x as often
    assert upsample_pool(5, errors, up=1).tolist() == [0, 1, 2, 3, 4]     # up = 1 is ERM
    with pytest.raises(ValueError, match="up must be"):
        upsample_pool(5, errors, up=0)


def test_patch_units_cover_every_pixel_once_and_span_both_channels():
    units = patch_units(8, 8, 2, 2)
    assert units.shape == (16, 128)
    assert units.sum(0).tolist() == [1] * 128
    first = units[0].view(2, 8, 8)
    assert first[:, :2, :2].all() and first.sum() == 8         # a 2x2 patch in both channels
    assert units[1].view(2, 8, 8)[:, :2, 2:4].all()            # row-major: next patch to the right


def test_masked_units_rates():
    units = patch_units(4, 4, 1, 2)
    gen = torch.Generator().manual_seed(0)
    assert not masked_units(units, 0.0, (3,), gen).any()
    assert masked_units(units, 1.0, (3,), gen).all()
    mask = masked_units(torch.eye(50, dtype=torch.bool), 0.3, (200,), gen)
    assert mask.shape == (200, 50) and abs(mask.float().mean().item() - 0.3) < 0.02


def _tiny_model(k=2, dim=3, width=4):
    return StackedMTL(dim, width, 2, init_seeds=list(range(k)))


def test_mtl_loss_matches_a_hand_computation_per_model():
    torch.manual_seed(0)
    model = _tiny_model()
    x, y = torch.randn(2, 5, 3), torch.randint(0, 2, (2, 5))
    x_aux = torch.randn(2, 4, 3)
    mask = torch.rand(2, 4, 3) < 0.5
    mask[:, 0, 0] = True
    w_mt, w_reg = torch.tensor([0.0, 2.0]), torch.tensor([0.5, 0.25])
    loss = mtl_loss(model, x, y, x_aux, mask, w_mt, w_reg)
    for k in range(2):
        w1, b1, w2, b2 = model.w1[k], model.b1[k], model.w2[k], model.b2[k]
        def hid(z, w1=w1, b1=b1, w2=w2, b2=b2):
            return torch.relu(torch.relu(z @ w1 + b1) @ w2 + b2)

        h = hid(x[k])
        ce = torch.nn.functional.cross_entropy(h @ model.wc[k] + model.bc[k], y[k])
        h_aux = hid(x_aux[k].masked_fill(mask[k], 0))
        rec = ((h_aux @ model.wd[k] + model.bd[k] - x_aux[k]) ** 2)[mask[k]].mean()
        l1 = h.abs().mean() + (h_aux.abs().mean() if w_mt[k] > 0 else 0)
        expected = ce + w_mt[k] * rec + w_reg[k] * l1
        assert loss[k].item() == pytest.approx(expected.item(), rel=1e-5)
    aux, _ = masked_reconstruction_loss(model, x_aux, mask)
    assert aux.shape == (2,)


def test_equal_init_seeds_give_equal_models_and_different_seeds_differ():
    model = StackedMTL(3, 4, 2, init_seeds=[7, 7, 8])
    assert torch.equal(model.w1[0], model.w1[1]) and not torch.equal(model.w1[0], model.w1[2])


def _data(seed=0, n=64):
    return synthetic_spurious_task(n_train=n, n_val=32, n_test=48, gen=torch.Generator().manual_seed(seed),
                                   n_core=3, n_latent=2, n_nuisance=4)


TRAIN = dict(width=8, epochs=2, batch_size=16, lr=1e-2, mask_rate=0.3)


def test_batched_training_equals_training_each_model_alone():
    data = [_data(0), _data(1)]
    specs = [MethodSpec(0, 1, 2), MethodSpec(1, 3, 4, w_mt=1.0, w_reg=0.1), MethodSpec(0, 5, 6, w_reg=0.3)]
    _, together = train_stacked(data, specs, **TRAIN)
    for k, spec in enumerate(specs):
        _, alone = train_stacked(data, [spec], **TRAIN)
        assert torch.allclose(together.val_group[k], alone.val_group[0], atol=1e-6, equal_nan=True)
        assert torch.allclose(together.test_avg[k], alone.test_avg[0], atol=1e-6)
    assert together.val_group.shape == (3, 3, 4)


def test_selected_reports_the_checkpoint_chosen_on_validation():
    _, history = train_stacked([_data()], [MethodSpec(0, 1, 2)], **{**TRAIN, "epochs": 3})
    sel = selected(history)
    e = int(sel["epoch"][0])
    assert 1 <= e <= 3
    assert sel["test_avg"][0] == history.test_avg[0, e]
    assert sel["val_worst"][0] == worst_group_accuracy(history.val_group[0]).max()


def test_jtt_pools_are_upsampled_and_stage_two_has_its_own_history():
    data = [_data(0), _data(1)]
    specs = [MethodSpec(0, 1, 2), MethodSpec(1, 3, 4)]
    history, errors, pools = train_jtt(data, specs, stage1_epochs=1, up=5, **TRAIN)
    assert (pools == 64 + 4 * errors).all() and (errors > 0).all()
    assert history.val_group.shape[:2] == (2, TRAIN["epochs"] + 1)


def test_synthetic_task_has_the_designed_spurious_shift_and_raw_spurious_feature():
    d = synthetic_spurious_task(n_train=4000, n_val=100, n_test=4000, gen=torch.Generator().manual_seed(1),
                                p_agree=0.9)
    assert d.dim == 10 + 30 + 1
    assert abs((d.a["train"] == d.y["train"]).float().mean().item() - 0.9) < 0.02
    assert abs((d.a["test"] == d.y["test"]).float().mean().item() - 0.5) < 0.03
    spurious = d.x["train"][:, -1]
    assert torch.allclose(spurious, 3.0 * d.a["train"].float(), atol=0.3)   # 3a + N(0, 0.05^2)
    std = synthetic_spurious_task(n_train=500, n_val=10, n_test=10, gen=torch.Generator().manual_seed(1),
                                  standardize=True)
    assert std.x["train"].std(0).sub(1).abs().max() < 0.01


def test_digits_patch_task_shapes_units_and_test_shift():
    d = digits_patch_task(gen=torch.Generator().manual_seed(0), pixel_noise=0.0)
    assert d.x["train"].shape[1] == 128 and d.mask_units.shape == (16, 128)
    total = sum(len(v) for v in d.y.values())
    assert total == 1797
    assert abs((d.a["test"] == d.y["test"]).float().mean().item() - 0.5) < 0.06
