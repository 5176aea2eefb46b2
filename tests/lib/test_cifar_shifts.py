"""CIFAR-10.1 / CIFAR-10-C loaders on small files written in the released formats, the
missing-data errors, and OpenCLIP feature extraction with a tiny random-weight config."""

import numpy as np
import pytest
import torch

from robustbook.data.cifar_shifts import (
    CIFAR10_1_FOLDER,
    CIFAR10_C_FOLDER,
    check_files,
    load_cifar10_1,
    load_cifar10_c,
    required_files,
    write_cifar10_1,
    write_cifar10_c,
)
from robustbook.models.clip_features import encode_images, load_open_clip, register_tiny_config


def test_cifar10_1_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 6)
    write_cifar10_1(tmp_path / CIFAR10_1_FOLDER, images, labels)
    assert (tmp_path / CIFAR10_1_FOLDER / "cifar10.1_v6_data.npy").is_file()
    x, y = load_cifar10_1(tmp_path)
    assert x.shape == (6, 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert torch.equal(x, torch.from_numpy(images).permute(0, 3, 1, 2))
    assert y.tolist() == labels.tolist()


def test_cifar10_c_returns_the_requested_severity_block(tmp_path):
    n = 4
    # image value encodes the severity: block s is filled with s
    by_severity = np.stack([np.full((n, 32, 32, 3), s, np.uint8) for s in range(1, 6)])
    labels = np.arange(n)
    write_cifar10_c(tmp_path / CIFAR10_C_FOLDER, "fog", by_severity, labels)
    assert np.load(tmp_path / CIFAR10_C_FOLDER / "fog.npy").shape == (5 * n, 32, 32, 3)
    for severity in (1, 3, 5):
        x, y = load_cifar10_c(tmp_path, "fog", severity)
        assert x.shape == (n, 3, 32, 32) and bool((x == severity).all())
        assert y.tolist() == labels.tolist()
    with pytest.raises(ValueError, match="severity"):
        load_cifar10_c(tmp_path, "fog", 6)
    with pytest.raises(ValueError, match="unknown CIFAR-10-C corruption"):
        load_cifar10_c(tmp_path, "rain", 1)


def test_missing_files_are_all_named_with_where_to_get_them(tmp_path):
    paths = required_files(corruptions=("fog", "snow"))
    with pytest.raises(FileNotFoundError) as info:
        check_files(tmp_path, paths)
    message = str(info.value)
    for name in ("data_batch_1", "test_batch", "cifar10.1_v6_data.npy", "CIFAR-10-C/fog.npy",
                 "CIFAR-10-C/snow.npy", "CIFAR-10-C/labels.npy", "zenodo", "modestyachts"):
        assert name in message
    with pytest.raises(FileNotFoundError, match="needs data_dir"):
        check_files(None, paths)
    with pytest.raises(FileNotFoundError, match="CIFAR-10.1/cifar10.1_v6_labels.npy"):
        load_cifar10_1(tmp_path)


def test_open_clip_tiny_config_encodes_uint8_images():
    model = load_open_clip(register_tiny_config(), pretrained=None)
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    z = encode_images(model, images, batch_size=2)
    assert z.shape == (5, 16) and torch.allclose(z.norm(dim=1), torch.ones(5), atol=1e-5)
    torch.testing.assert_close(z, encode_images(model, images, batch_size=5))
