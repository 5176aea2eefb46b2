"""robustbook.models refuses bad inputs at the door, naming the argument (issue 19)."""

import pytest
import torch
from torch import nn

from robustbook.models import MLP, LinearClassifier, TwoLayerLinear, resnet18_gn
from robustbook.models.clip_features import encode_images, preprocess
from robustbook.models.frozen_features import clip_features, pretrain_mlp, standardize
from robustbook.models.tiny_cnn import TinyCNN
from robustbook.models.tiny_lm import tiny_gpt2, train_causal_lm, word_tokenizer


def _lm(**overrides):
    model = tiny_gpt2(10, n_layer=1, n_head=2, n_embd=8, n_positions=6)
    kw = dict(input_ids=torch.zeros(4, 6, dtype=torch.long), pad_id=0, epochs=1, batch_size=2, lr=1e-3,
              generator=torch.Generator().manual_seed(0))
    kw.update(overrides)
    return lambda: train_causal_lm(model, **kw)


def _pretrain(**overrides):
    kw = dict(x=torch.zeros(6, 3), y=torch.arange(6) % 3, width=4, n_classes=2, epochs=1, seed=0)
    kw.update(overrides)
    return lambda: pretrain_mlp(**kw)


@pytest.mark.parametrize("call, message", [
    (lambda: MLP(0, 4, 3), r"d_in must be an integer >= 1, got 0"),
    (lambda: MLP(2, 0, 3), r"width must be an integer >= 1, got 0"),
    (lambda: MLP(2, 4, -1), r"n_classes must be an integer >= 1, got -1"),
    (lambda: MLP(2, 4, 3, depth=0), r"depth must be an integer >= 1, got 0"),
    (lambda: MLP(2, 4.0, 3), r"width must be an integer >= 1, got 4.0"),
    (lambda: LinearClassifier(0), r"d_in must be an integer >= 1, got 0"),
    (lambda: TwoLayerLinear(3, 0), r"width must be an integer >= 1, got 0"),
    (lambda: resnet18_gn(n_classes=0), r"n_classes must be an integer >= 1, got 0"),
    (lambda: resnet18_gn(width=2), r"width must be an integer >= 4, got 2"),
    (lambda: resnet18_gn(width=18), r"width must give channel counts divisible by their GroupNorm groups .*got 18"),
    (lambda: TinyCNN(in_channels=0), r"in_channels must be an integer >= 1, got 0"),
    (lambda: TinyCNN(width=0), r"width must be an integer >= 1, got 0"),
    (lambda: tiny_gpt2(0), r"vocab_size must be an integer >= 1, got 0"),
    (lambda: tiny_gpt2(10, n_layer=0), r"n_layer must be an integer >= 1, got 0"),
    (lambda: tiny_gpt2(10, n_embd=30, n_head=4), r"n_embd must be divisible by n_head, got n_embd=30, n_head=4"),
    (lambda: word_tokenizer(["a", "b"]), r"vocabulary must be unique and contain the special tokens; missing"),
    (_lm(input_ids=torch.zeros(4, 6)), r"input_ids must be integer token ids \(N, L\), got shape \(4, 6\), dtype torch.float32"),
    (_lm(input_ids=torch.zeros(6, dtype=torch.long)), r"input_ids must be integer token ids \(N, L\), got shape \(6,\)"),
    (_lm(input_ids=torch.zeros(4, 7, dtype=torch.long)), r"sequences of length 7 but the model has only n_positions=6"),
    (_lm(epochs=0), r"epochs must be an integer >= 1, got 0"),
    (_lm(batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (lambda: standardize(torch.zeros(1, 3)), r"train needs at least 2 rows for an unbiased std, got shape \(1, 3\)"),
    (lambda: standardize(torch.zeros(4, 3), torch.zeros(2, 5)), r"others\[0\] must have train's feature shape \(3,\), got \(5,\)"),
    (lambda: standardize(torch.zeros(4, 3), floor=-1.0), r"floor must be a finite number in \[0, inf\), got -1.0"),
    (_pretrain(x=torch.zeros(6, 3, 1)), r"x must be \(N, d_in\), got shape \(6, 3, 1\)"),
    (_pretrain(y=torch.arange(5)), r"need x, y of equal length, got x=6, y=5"),
    (_pretrain(n_classes=0), r"n_classes must be an integer >= 1, got 0"),
    (_pretrain(y=torch.full((6,), 7)), r"no training example has a label < n_classes=2"),
    (_pretrain(epochs=-1), r"epochs must be an integer >= 0, got -1"),
    (lambda: clip_features(nn.Linear(1, 1), "/nonexistent", corruptions=(), severities=(), n_train=0), r"n_train must be an integer >= 1, got 0"),
    (lambda: encode_images(nn.Linear(1, 1), torch.zeros(2, 3, 8, 8, dtype=torch.uint8), batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (lambda: encode_images(nn.Linear(1, 1), torch.zeros(2, 8, 8, 3, dtype=torch.uint8)), r"images must be uint8 \(N, 3, H, W\), got shape \(2, 8, 8, 3\)"),
    (lambda: preprocess(torch.zeros(8, 8, 3, dtype=torch.uint8), nn.Linear(1, 1)), r"images must be \(B, 3, H, W\), got shape \(8, 8, 3\)"),
])
def test_bad_inputs_are_refused_with_the_argument_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_resnet_widths_used_by_tests_and_presets_stay_valid():
    for width in (8, 16, 32, 64):
        assert resnet18_gn(width=width).head.in_features == 8 * width
