"""robustbook.data.digit_shifts, robustbook.models.frozen_features (the image-feature pipeline of
agreement studies) and robustbook.models.open_clip_weights (the offline weights check)."""

import numpy as np
import pytest
import torch

from robustbook.data.digit_shifts import corrupted_sets, digit_images, shift_seed, split_digits
from robustbook.models import clip_features as clip
from robustbook.models.frozen_features import digits_features, pretrain_mlp, shifted_digits, standardize
from robustbook.models.open_clip_weights import cached_open_clip_weights, check_open_clip_weights


def test_digit_images_are_32px_uint8_with_their_labels():
    images, labels = digit_images()
    assert images.shape == (1797, 32, 32) and images.dtype == np.uint8
    assert labels.dtype == torch.long and labels.tolist()[:3] == [0, 1, 2]
    assert images.max() == 255 and images.min() == 0


def test_split_is_stratified_seeded_and_truncated():
    _, labels = digit_images()
    tr, te = split_digits(labels, seed=3)
    assert (len(tr), len(te)) == (1198, 599) and not set(tr) & set(te)
    per_class = np.bincount(labels.numpy(), minlength=10)
    counts = np.bincount(labels.numpy()[te], minlength=10)
    assert np.abs(counts - per_class / 3).max() <= 1          # 1/3 of every class, up to rounding
    tr2, _ = split_digits(labels, seed=3, n_train=100)
    assert np.array_equal(tr2, tr[:100])
    assert not np.array_equal(split_digits(labels, seed=4)[0], tr)


def test_corrupted_sets_are_keyed_by_name_not_position():
    images = digit_images()[0][:4]
    one = corrupted_sets(images, ["gaussian_noise"], [3], seed=5)
    two = corrupted_sets(images, ["impulse_noise", "gaussian_noise"], [1, 3], seed=5)
    assert list(two) == ["impulse_noise-1", "impulse_noise-3", "gaussian_noise-1", "gaussian_noise-3"]
    assert two["gaussian_noise-3"][1] == ("gaussian_noise", 3)
    np.testing.assert_array_equal(one["gaussian_noise-3"][0], two["gaussian_noise-3"][0])
    assert not np.array_equal(two["gaussian_noise-1"][0], two["gaussian_noise-3"][0])
    assert shift_seed(5, "gaussian_noise-3") != shift_seed(6, "gaussian_noise-3")


def test_standardize_uses_the_training_statistics_by_hand():
    train = torch.tensor([[0.0, 2.0], [2.0, 2.0], [4.0, 2.0]])    # mean (2, 2), std (2, 0)
    other = torch.tensor([[6.0, 3.0]])
    z_train, z_other = standardize(train, other, floor=0.5)
    torch.testing.assert_close(z_other, torch.tensor([[4.0 / 2.5, 1.0 / 0.5]]))
    torch.testing.assert_close(z_train[:, 0], torch.tensor([-2.0, 0.0, 2.0]) / 2.5)


def test_pretrained_mlp_sees_only_the_first_classes_and_is_frozen():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(60, 5, generator=gen), torch.arange(60) % 6
    before = torch.random.get_rng_state()
    model = pretrain_mlp(x, y, width=8, n_classes=3, epochs=2, seed=1)
    assert model.head.out_features == 3 and not model.training
    assert not any(p.requires_grad for p in model.parameters())
    again = pretrain_mlp(x, y, width=8, n_classes=3, epochs=2, seed=1)
    torch.testing.assert_close(model.head.weight, again.head.weight)
    # labels 3..5 were dropped (cross-entropy over 3 classes would fail on them); init was
    # seeded inside a forked RNG: the global stream is untouched
    assert torch.equal(torch.random.get_rng_state(), before)


def test_digits_features_shapes_and_standardisation():
    feats = digits_features(corruptions=["gaussian_noise"], severities=[1, 5], width=16,
                            pretrain_classes=5, pretrain_epochs=1, split_seed=0, backbone_seed=1,
                            corruption_seed=2, n_train=200)
    assert feats.x_train.shape == (200, 16) and feats.x_id.shape == (599, 16)
    assert list(feats.shifts) == ["gaussian_noise-1", "gaussian_noise-5"]
    assert feats.shift_info["gaussian_noise-5"] == ("gaussian_noise", 5)
    assert torch.equal(feats.shifts["gaussian_noise-5"][1], feats.y_id)
    live = feats.x_train.std(0) > 0.1                            # dead ReLUs stay at 0
    assert feats.x_train[:, live].mean(0).abs().max() < 1e-4
    # heavier noise moves the features further from the clean test features
    far = [float((feats.shifts[n][0] - feats.x_id).norm()) for n in feats.shifts]
    assert far[1] > far[0] > 0


def test_shared_digits_give_the_same_features_and_must_match_their_arguments():
    args = dict(corruptions=["gaussian_noise"], severities=[3], split_seed=0, corruption_seed=2, n_train=100)
    data = shifted_digits(**args)
    made = digits_features(width=8, pretrain_classes=3, pretrain_epochs=1, backbone_seed=1, **args)
    shared = digits_features(width=8, pretrain_classes=3, pretrain_epochs=1, backbone_seed=1, data=data, **args)
    assert torch.equal(made.x_train, shared.x_train) and torch.equal(made.x_id, shared.x_id)
    assert torch.equal(made.shifts["gaussian_noise-3"][0], shared.shifts["gaussian_noise-3"][0])
    with pytest.raises(ValueError, match="data was made with"):
        digits_features(width=8, pretrain_classes=3, pretrain_epochs=1, backbone_seed=1, data=data,
                        **{**args, "corruption_seed": 3})


# ---- the open_clip weights check -------------------------------------------------------------

REPO = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"


def _fake_hf_cache(root, filename):
    folder = root / f"models--{REPO.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("abc123")
    snap = folder / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / filename).write_bytes(b"weights")
    return snap / filename


@pytest.mark.parametrize("filename", ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"])
def test_cached_weights_are_found_in_the_hf_cache(tmp_path, filename):
    path = _fake_hf_cache(tmp_path, filename)
    found = cached_open_clip_weights("ViT-B-32", "laion2b_s34b_b79k", hf_cache=tmp_path)
    assert found == path


def test_missing_weights_name_the_file_the_repo_and_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        check_open_clip_weights("ViT-B-32", "laion2b_s34b_b79k", hf_cache=tmp_path)
    text = str(err.value)
    assert f"models--{REPO.replace('/', '--')}" in text and str(tmp_path) in text
    assert "open_clip_pytorch_model.bin" in text and REPO in text and "clip_pretrained=" in text


def test_weights_file_path_unknown_tag_and_url_cache(tmp_path, monkeypatch):
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"x")
    assert cached_open_clip_weights("ViT-B-32", str(weights)) == weights
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_open_clip_weights("ViT-B-32", str(tmp_path / "missing.pt"))
    with pytest.raises(FileNotFoundError, match="no pretrained tag 'nope'.*laion2b_s34b_b79k"):
        check_open_clip_weights("ViT-B-32", "nope")
    check_open_clip_weights("ViT-B-32", None)                    # random weights need nothing
    import open_clip.pretrained

    monkeypatch.setattr(open_clip.pretrained, "get_pretrained_cfg",
                        lambda name, tag: {"url": "https://host/path/model-abc.pt"})
    with pytest.raises(FileNotFoundError, match=f"expected {tmp_path}/model-abc.pt"):
        check_open_clip_weights("X", "tag", url_cache=tmp_path)
    (tmp_path / "model-abc.pt").write_bytes(b"x")
    assert cached_open_clip_weights("X", "tag", url_cache=tmp_path) == tmp_path / "model-abc.pt"


def test_clip_features_module_is_used_not_copied():
    # the paper pipeline encodes with models.clip_features (another module owns it)
    from robustbook.models import frozen_features

    assert frozen_features.encode_images is clip.encode_images
