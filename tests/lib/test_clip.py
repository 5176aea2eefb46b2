"""Tiny open_clip models: config registration, word tokenizer, zero-shot evaluator on a hand-built
case, contrastive training that lowers the loss."""

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F

from robustbook.clip import (
    CONFIG_DIR,
    TINY_CLIP_CONFIGS,
    WordTokenizer,
    class_embeddings,
    contrastive_step,
    create_clip,
    register,
    register_configs,
    tiny_clip_config,
    train_contrastive,
    zero_shot_accuracy,
)
from robustbook.clip.training import MAX_LOGIT_SCALE, param_groups


def test_tiny_configs_are_packaged_json_registered_in_open_clip_and_build_without_weights():
    assert {p.stem for p in CONFIG_DIR.glob("*.json")} == set(TINY_CLIP_CONFIGS) >= {
        "robustbook-tiny-clip", "robustbook-small-clip", "robustbook-tiny-clip-bpe", "robustbook-tiny-vit"}
    assert TINY_CLIP_CONFIGS["robustbook-tiny-clip"] == tiny_clip_config()
    register("robustbook-tiny-clip")
    assert "robustbook-tiny-clip" in open_clip.list_models()
    assert open_clip.get_model_config("robustbook-tiny-clip") == TINY_CLIP_CONFIGS["robustbook-tiny-clip"]
    model = create_clip("robustbook-tiny-clip", seed=0)
    image_features, text_features, scale = model(torch.randn(3, 3, 16, 16), torch.randint(1, 60, (3, 8)))
    assert image_features.shape == text_features.shape == (3, 32)
    assert scale.item() == pytest.approx(1 / 0.07, rel=1e-4)  # CLIP's initial temperature
    again = create_clip("robustbook-tiny-clip", seed=0)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters()))


def test_registration_survives_another_add_model_config():
    register_configs()
    register_configs()  # idempotent
    register("test-other-clip", tiny_clip_config(embed_dim=8))  # rescans open_clip's config paths
    assert isinstance(create_clip("robustbook-tiny-clip"), torch.nn.Module)
    assert create_clip("test-other-clip").text_projection.shape[1] == 8


def test_feature_extractor_config_comes_from_the_same_folder():
    from robustbook.models.clip_features import TINY_CONFIG, load_open_clip, register_tiny_config

    assert register_tiny_config() == TINY_CONFIG
    assert open_clip.get_model_config(TINY_CONFIG) == TINY_CLIP_CONFIGS[TINY_CONFIG]
    assert load_open_clip(register_tiny_config("test-vit-8", embed_dim=8), None).text_projection.shape[1] == 8
    assert open_clip.get_model_config(TINY_CONFIG)["embed_dim"] == 16  # the packaged one is unchanged


def test_custom_config_and_unknown_names():
    register("test-micro-clip", tiny_clip_config(width=32, layers=1, embed_dim=16))
    assert create_clip("test-micro-clip").text_projection.shape[1] == 16
    with pytest.raises(KeyError, match="open_clip knows no model"):
        create_clip("no-such-model")
    with pytest.raises(KeyError, match="known tiny configs"):
        register("no-such-tiny-config")


def test_word_tokenizer_puts_end_of_text_at_the_highest_id():
    tok = WordTokenizer(["a red circle", "a blue square"], context_length=6)
    ids = tok(["a red circle", "a green circle"])
    assert ids.shape == (2, 6) and tok.vocab_size == tok.eot + 1
    assert ids[0].tolist() == [tok.sot, tok.ids["a"], tok.ids["red"], tok.ids["circle"], tok.eot, 0]
    assert ids[1, 2].item() == WordTokenizer.UNK
    assert (ids.argmax(1) == torch.tensor([4, 4])).all()  # open_clip pools at argmax = EOT
    assert tok(["a a a a a a a a"])[0, -1].item() == tok.eot  # truncated, EOT kept


class _HandBuilt(torch.nn.Module):
    """Images are their own embeddings (first 2 pixels); class prompt ids map to fixed directions."""

    def __init__(self):
        super().__init__()
        self.directions = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])

    def encode_image(self, x):
        return x.flatten(1)[:, :2]

    def encode_text(self, tokens):
        return self.directions[tokens[:, 1] - 2] * 5.0  # scale must not matter (cosine)


def test_zero_shot_evaluator_on_a_hand_built_case():
    tok = WordTokenizer(["cat", "dog", "emu"], context_length=4)  # ids: cat 2, dog 3, emu 4
    model = _HandBuilt()
    emb = class_embeddings(model, tok, ["cat", "dog", "emu"], ["{}", "{}"])
    assert torch.allclose(emb, model.directions)
    images = torch.tensor([[2.0, 0.1], [0.2, 3.0], [-1.0, 0.3], [0.1, 0.2]]).view(4, 1, 1, 2)
    labels = torch.tensor([0, 1, 2, 0])  # the last image is closer to "dog": 3 of 4 correct
    assert zero_shot_accuracy(model, tok, images, labels, ["cat", "dog", "emu"], ["{}"]) == 0.75


def test_contrastive_training_lowers_the_loss_on_a_tiny_batch():
    torch.manual_seed(0)
    model = create_clip("robustbook-tiny-clip", seed=0)
    images = torch.randn(8, 3, 16, 16)
    tokens = WordTokenizer([f"word{i}" for i in range(8)])([f"word{i}" for i in range(8)])
    step = contrastive_step(model, torch.optim.AdamW(param_groups(model, 0.0), lr=3e-3))
    losses = [step(images, tokens) for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0]
    assert model.logit_scale.item() <= MAX_LOGIT_SCALE


def test_train_contrastive_takes_one_step_per_batch_and_skips_single_pairs():
    model = create_clip("robustbook-tiny-clip", seed=0)
    tokens = WordTokenizer(["a b"])(["a b"] * 10)
    losses = train_contrastive(model, torch.randn(10, 3, 16, 16), tokens, samples_seen=25, batch_size=8,
                               lr=1e-3, generator=torch.Generator().manual_seed(0))
    assert len(losses) == 3  # batches of 8, 8, 8, 1: the last single pair is skipped


def test_weight_decay_skips_gains_biases_and_temperature():
    model = create_clip("robustbook-tiny-clip")
    decay, rest = param_groups(model, 0.1)
    assert all(p.ndim >= 2 for p in decay["params"]) and decay["weight_decay"] == 0.1
    assert any(p is model.logit_scale for p in rest["params"]) and rest["weight_decay"] == 0.0
    assert len(decay["params"]) + len(rest["params"]) == len(list(model.parameters()))


def test_class_embeddings_of_a_real_model_are_unit_vectors():
    model = create_clip("robustbook-tiny-clip", seed=0)
    tok = WordTokenizer(["zero", "one"])
    emb = class_embeddings(model, tok, ["zero", "one"], ["{}"])
    assert torch.allclose(emb.norm(dim=1), torch.ones(2))
    assert torch.allclose(F.normalize(emb, dim=1), emb)


def test_bf16_autocast_step_keeps_float32_weights():
    model = create_clip("robustbook-tiny-clip", seed=0)
    tokens = WordTokenizer(["a b", "c d"])(["a b", "c d"] * 4)
    step = contrastive_step(model, torch.optim.AdamW(param_groups(model, 0.0), lr=1e-3),
                            autocast_dtype=torch.bfloat16)
    loss = step(torch.randn(8, 3, 16, 16), tokens)
    assert np.isfinite(loss) and all(p.dtype == torch.float32 for p in model.parameters())
