"""robustbook.clip refuses bad inputs at the door, naming the argument (issue 19)."""

import pytest
import torch

from robustbook.clip import (
    WordTokenizer,
    class_embeddings,
    create_clip,
    register,
    tiny_clip_config,
    train_contrastive,
    train_on_batches,
    zero_shot_accuracy,
    zero_shot_logits,
)
from robustbook.clip.training import param_groups

MODEL = create_clip("robustbook-tiny-clip", seed=0)
TOK = WordTokenizer(["a photo of the number one", "two"])
IMAGES = torch.zeros(4, 3, 16, 16)


def _train(**overrides):
    kw = dict(images=IMAGES, tokens=TOK(["one"] * 4), samples_seen=8, batch_size=2, lr=1e-3,
              generator=torch.Generator().manual_seed(0))
    kw.update(overrides)
    return lambda: train_contrastive(MODEL, **kw)


@pytest.mark.parametrize("call, error, message", [
    (lambda: tiny_clip_config(image_size=16, patch_size=6), ValueError, r"image_size must be a multiple of patch_size, got image_size=16, patch_size=6"),
    (lambda: tiny_clip_config(width=48), ValueError, r"width must be a multiple of 32 \(the image tower's head width\), got 48"),
    (lambda: tiny_clip_config(layers=0), ValueError, r"layers must be an integer >= 1, got 0"),
    (lambda: tiny_clip_config(embed_dim=0), ValueError, r"embed_dim must be an integer >= 1, got 0"),
    (lambda: tiny_clip_config(text_width=100), ValueError, r"text_width must be divisible by its 3 heads \(text_width // 32\), got 100"),
    (lambda: register("no-such-tiny-config"), KeyError, r"no config named 'no-such-tiny-config'"),
    (lambda: register("test-broken", {"embed_dim": 8}), ValueError, r"config must have 'embed_dim', 'vision_cfg' and 'text_cfg', missing \['vision_cfg', 'text_cfg'\]"),
    (lambda: register("a/b", tiny_clip_config()), ValueError, r"name must be a non-empty model name without '/', got 'a/b'"),
    (lambda: create_clip("no-such-model"), KeyError, r"open_clip knows no model 'no-such-model'"),
    (lambda: param_groups(MODEL, -0.1), ValueError, r"weight_decay must be a finite number in \[0, inf\), got -0.1"),
    (lambda: train_on_batches(MODEL, [], total_steps=0, lr=1e-3), ValueError, r"total_steps must be an integer >= 1, got 0"),
    (lambda: train_on_batches(MODEL, [], total_steps=5, lr=1e-3, warmup_steps=-1), ValueError, r"warmup_steps must be an integer >= 0, got -1"),
    (lambda: train_on_batches(MODEL, [], total_steps=5, lr=float("nan")), ValueError, r"lr must be a finite number in \[0, inf\), got nan"),
    (_train(images=torch.zeros(4, 16, 16)), ValueError, r"images must be \(N, 3, H, W\), got shape \(4, 16, 16\)"),
    (_train(tokens=TOK(["one"] * 3)), ValueError, r"tokens must be \(N, L\) with one row per image, got shape \(3, 8\) for 4 images"),
    (_train(batch_size=0), ValueError, r"batch_size must be >= 1, got 0"),
    (_train(samples_seen=0), ValueError, r"need pool_size and samples_seen >= 1"),
    (lambda: class_embeddings(MODEL, TOK, [], ["a photo of {}"]), ValueError, r"class_names must name at least one class"),
    (lambda: class_embeddings(MODEL, TOK, ["one"], []), ValueError, r"templates must hold at least one prompt template"),
    (lambda: class_embeddings(MODEL, TOK, ["one", "two"], ["a photo of the number"]), ValueError, r"every template needs a '\{\}' for the class name; these have none: \['a photo of the number'\]"),
    (lambda: zero_shot_logits(MODEL, IMAGES, torch.zeros(2, 32), batch_size=0), ValueError, r"batch_size must be an integer >= 1, got 0"),
    (lambda: zero_shot_logits(MODEL, IMAGES, torch.zeros(32)), ValueError, r"class_emb must be \(C, D\), got shape \(32,\)"),
    (lambda: zero_shot_accuracy(MODEL, TOK, IMAGES, torch.zeros(3, dtype=torch.long), ["one", "two"], ["{}"]), ValueError, r"labels must be \(N,\) with one label per image \(N >= 1\), got shape \(3,\) for 4 images"),
    (lambda: zero_shot_accuracy(MODEL, TOK, IMAGES, torch.tensor([0, 1, 2, 0]), ["one", "two"], ["{}"]), ValueError, r"labels must index class_names, i.e. lie in \[0, 2\), got range \[0, 2\]"),
    (lambda: WordTokenizer("a photo of one"), ValueError, r"texts must be an iterable of texts, not one string"),
    (lambda: WordTokenizer(["one"], context_length=1), ValueError, r"context_length must be an integer >= 2, got 1"),
])
def test_bad_inputs_are_refused_with_the_argument_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
