"""robustbook.groups refuses bad inputs at the door, naming the argument (issue 19)."""

import pandas as pd
import pytest
import torch

from robustbook.groups import (
    MethodSpec,
    StackedMTL,
    average_accuracy,
    digits_patch_task,
    error_set,
    group_accuracy,
    group_ids,
    masked_units,
    select_by_worst_group,
    synthetic_spurious_task,
    train_stacked,
    upsample_pool,
)
from robustbook.groups.data import patch_units, spurious_attribute
from robustbook.groups.jtt import train_jtt
from robustbook.groups.paper_models import TransformerMTL, random_token_mask
from robustbook.groups.paper_train import jtt_pool, predict_table, train_transformer


def _gen():
    return torch.Generator().manual_seed(0)


def _task(**overrides):
    kw = dict(n_train=16, n_val=8, n_test=8, gen=_gen(), n_core=2, n_latent=2, n_nuisance=2)
    kw.update(overrides)
    return lambda: synthetic_spurious_task(**kw)


DATA = _task()()
TRAIN = dict(width=4, epochs=1, batch_size=8, lr=1e-2, mask_rate=0.3)
ERM = (MethodSpec(0, 1, 2),)


def _train(datasets=(DATA,), specs=ERM, **overrides):
    return lambda: train_stacked(list(datasets), list(specs), **{**TRAIN, **overrides})


def _paper(**overrides):
    table = pd.DataFrame({"split": ["train", "val"], "input": ["a", "b"], "y": [0, 1], "a": [0, 1]})
    kw = dict(model_name="/nonexistent", modality="text", n_classes=2, seed=0, epochs=1, lr=1e-3,
              batch_size=1, mask_rate=0.3)
    kw.update(overrides)
    return lambda: train_transformer(kw.pop("table", table), **kw)


Y = torch.tensor([0, 1, 1, 0])


@pytest.mark.parametrize("call, message", [
    (lambda: spurious_attribute(Y, float("nan"), _gen()), r"p_agree must be a finite number in \[0, 1\], got nan"),
    (_task(n_train=0), r"n_train must be an integer >= 1, got 0"),
    (_task(n_latent=0), r"n_latent must be an integer >= 1, got 0"),
    (_task(n_nuisance=-1), r"n_nuisance must be an integer >= 0, got -1"),
    (_task(p_agree=1.5), r"p_agree must be a finite number in \[0, 1\], got 1.5"),
    (_task(p_agree_test=-0.5), r"p_agree_test must be a finite number in \[0, 1\], got -0.5"),
    (_task(feature_noise=-1.0), r"feature_noise must be a finite number in \[0, inf\), got -1.0"),
    (_task(core_signal=float("inf")), r"core_signal must be a finite number in \(-inf, inf\), got inf"),
    (lambda: patch_units(8, 8, 2, 0), r"patch must be an integer >= 1, got 0"),
    (lambda: digits_patch_task(gen=_gen(), fractions=(0.6, 0.5)), r"fractions must be \(train, val\) shares in \(0, 1\) that leave a test share \(sum < 1\), got \(0.6, 0.5\)"),
    (lambda: digits_patch_task(gen=_gen(), fractions=(0.5,)), r"fractions must be \(train, val\) shares"),
    (lambda: digits_patch_task(gen=_gen(), p_agree=2.0), r"p_agree must be a finite number in \[0, 1\], got 2.0"),
    (lambda: digits_patch_task(gen=_gen(), pixel_noise=-0.1), r"pixel_noise must be a finite number in \[0, inf\), got -0.1"),
    (lambda: masked_units(torch.eye(3, dtype=torch.bool), 1.5, (2,), _gen()), r"rate must be a finite number in \[0, 1\], got 1.5"),
    (lambda: masked_units(torch.ones(3, dtype=torch.bool), 0.5, (2,), _gen()), r"mask_units must be \(U, D\), got shape \(3,\)"),
    (lambda: group_ids(Y, Y[:3]), r"y and a must have the same shape, got \(4,\) and \(3,\)"),
    (lambda: group_ids(Y, Y + 1), r"attributes must lie in \[0, 2\), got 1..2"),
    (lambda: group_ids(Y, Y, n_attributes=0), r"n_attributes must be an integer >= 1, got 0"),
    (lambda: group_accuracy(Y, Y, Y, 0), r"n_groups must be an integer >= 1, got 0"),
    (lambda: group_accuracy(Y, Y[:3], Y, 4), r"pred, y and groups must share the last \(example\) axis, got \(4,\), \(3,\), \(4,\)"),
    (lambda: average_accuracy(Y, Y[:2]), r"pred and y must share a non-empty last \(example\) axis, got \(4,\) and \(2,\)"),
    (lambda: average_accuracy(Y[:0], Y[:0]), r"pred and y must share a non-empty last \(example\) axis, got \(0,\) and \(0,\)"),
    (lambda: select_by_worst_group(torch.zeros(2, 3), first=3), r"first must be in \[0, 3\), got 3"),
    (lambda: select_by_worst_group(torch.zeros(2, 3), first=1.5), r"first must be in \[0, 3\), got 1.5"),
    (lambda: select_by_worst_group(torch.tensor(0.5)), r"val_worst must be \(K, E\), got shape \(\)"),
    (lambda: StackedMTL(0, 4, 2, [0]), r"dim must be an integer >= 1, got 0"),
    (lambda: StackedMTL(3, 4, 2, []), r"init_seeds must seed at least one model, got none"),
    (lambda: error_set(Y, Y[:2]), r"pred and y must both be \(N,\), got \(4,\) and \(2,\)"),
    (lambda: upsample_pool(4, torch.tensor([1]), 0), r"up must be an integer >= 1, got 0"),
    (lambda: upsample_pool(4, torch.tensor([1]), 2.5), r"up must be an integer >= 1, got 2.5"),
    (lambda: upsample_pool(4, torch.tensor([1, 4]), 2), r"errors must be indices in \[0, n=4\), got range \[1, 4\]"),
    (lambda: train_jtt([DATA], [MethodSpec(0, 1, 2)], stage1_epochs=1, up=0, **TRAIN), r"up must be an integer >= 1, got 0"),
    (lambda: train_jtt([DATA], [MethodSpec(0, 1, 2)], stage1_epochs=-1, up=2, **TRAIN), r"stage1_epochs must be an integer >= 0, got -1"),
    (_train(datasets=()), r"datasets must hold at least one GroupData, got none"),
    (_train(specs=()), r"specs must describe at least one model, got none"),
    (_train(epochs=-1), r"epochs must be an integer >= 0, got -1"),
    (_train(batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (_train(width=0), r"width must be an integer >= 1, got 0"),
    (_train(lr=float("nan")), r"lr must be a finite number in \[0, inf\), got nan"),
    (_train(mask_rate=1.5), r"mask_rate must be a finite number in \[0, 1\], got 1.5"),
    (_train(datasets=(DATA, _task(n_train=20)())), r"datasets must be equally sized per split"),
    (_train(specs=(MethodSpec(1, 1, 2),)), r"specs\[0\].data_index must be in \[0, 1\), got 1"),
    (_train(specs=(MethodSpec(0, 1, 2, w_mt=-1.0),)), r"specs\[0\].w_mt must be a finite number in \[0, inf\), got -1.0"),
    (_train(specs=(MethodSpec(0, 1, 2, pool=torch.tensor([0, 16])),)), r"specs\[0\].pool indices must lie in \[0, 16\), got \[0, 16\]"),
    (_train(specs=(MethodSpec(0, 1, 2, pool=torch.tensor([], dtype=torch.long)),)), r"specs\[0\].pool must be a non-empty 1-D integer index tensor"),
    (lambda: TransformerMTL("/nonexistent", 2, "audio"), r"modality must be one of \['image', 'text'\], got 'audio'"),
    (lambda: TransformerMTL("/nonexistent", 0, "text"), r"n_classes must be an integer >= 1, got 0"),
    (lambda: random_token_mask(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.bool), 1.5, _gen()), r"rate must be a finite number in \[0, 1\], got 1.5"),
    (lambda: random_token_mask(torch.zeros(2, 3), torch.zeros(2, 2, dtype=torch.bool), 0.5, _gen()), r"input_ids and special must both be \(B, T\), got \(2, 3\) and \(2, 2\)"),
    (_paper(modality="video"), r"modality must be one of \['image', 'text'\], got 'video'"),
    (_paper(batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (_paper(epochs=-1), r"epochs must be an integer >= 0, got -1"),
    (_paper(mask_rate=float("nan")), r"mask_rate must be a finite number in \[0, 1\], got nan"),
    (_paper(w_reg=-0.1), r"w_reg must be a finite number in \[0, inf\), got -0.1"),
    (_paper(table=pd.DataFrame({"split": ["val"], "input": ["a"], "y": [0], "a": [0]})), r"table has no rows with split == 'train'"),
    (_paper(pool=torch.tensor([0, 1])), r"pool indices must lie in \[0, 1\), got \[0, 1\]"),
    (lambda: predict_table(None, ["a"], 0, "cpu"), r"batch_size must be an integer >= 1, got 0"),
    (lambda: predict_table(None, [], 4, "cpu"), r"inputs must hold at least one example, got none"),
    (lambda: jtt_pool(None, pd.DataFrame({"split": ["train"]}), 0, 4, "cpu"), r"up must be an integer >= 1, got 0"),
])
def test_bad_inputs_are_refused_with_the_argument_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
