"""Data: label noise, packaged digits, synthetic Gaussians, CIFAR-10 loader on files in the real format."""

import numpy as np
import pytest
import torch

from robustbook.data import gaussian_binary_classification, load_digits_split, symmetric_label_noise
from robustbook.data.cifar import load_cifar10, normalize, random_crop_flip, write_cifar10_batch


def test_symmetric_noise_flips_to_other_classes_at_the_requested_rate():
    labels = torch.arange(200_000) % 10
    noisy = symmetric_label_noise(labels, 0.3, 10, torch.Generator().manual_seed(0))
    flipped = noisy != labels
    assert flipped.float().mean().item() == pytest.approx(0.3, abs=0.005)
    # A flipped label lands uniformly on the 9 other classes.
    offsets = ((noisy - labels) % 10)[flipped]
    counts = torch.bincount(offsets, minlength=10)[1:].float()
    assert (counts / counts.sum() - 1 / 9).abs().max().item() < 0.01
    assert torch.equal(symmetric_label_noise(labels, 0.0, 10, torch.Generator()), labels)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_noise_rate_outside_unit_interval_is_an_error(rate):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        symmetric_label_noise(torch.zeros(4, dtype=torch.long), rate, 10, torch.Generator())


def test_digits_split_is_stratified_standardised_and_noisy_only_in_train():
    split = load_digits_split(noise_rate=0.6, seed=0)
    assert split.x_train.shape[1] == 64 and len(split.x_train) + len(split.x_test) == 1797
    assert split.noisy_mask.float().mean().item() == pytest.approx(0.6, abs=0.05)
    assert torch.bincount(split.y_test).min() >= 55  # stratified: every class well represented
    mean = split.x_train.mean(0)
    assert mean.abs().max().item() < 1e-4
    again = load_digits_split(noise_rate=0.6, seed=0)
    assert torch.equal(again.y_train, split.y_train)
    assert not torch.equal(load_digits_split(noise_rate=0.6, seed=1).y_train[:50], split.y_train[:50])


def test_gaussian_binary_classes_are_separated_along_one_direction():
    split = gaussian_binary_classification(n_train=4000, n_test=10, dim=5, noise_rate=0.25,
                                           margin=2.0, seed=0)
    t = 2.0 * split.y_train_clean - 1
    direction = (t.unsqueeze(1) * split.x_train).mean(0)
    assert direction.norm().item() == pytest.approx(2.0, abs=0.1)
    assert split.noisy_mask.float().mean().item() == pytest.approx(0.25, abs=0.03)
    with pytest.raises(ValueError):
        gaussian_binary_classification(n_train=4, n_test=1, dim=2, noise_rate=1.0, margin=1, seed=0)


def _fake_cifar(folder, n=6):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_cifar10_batch(folder / name, rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
                            rng.integers(0, 10, n))
    return rng


def test_cifar10_loader_reads_the_python_pickle_format(tmp_path):
    _fake_cifar(tmp_path / "cifar-10-batches-py")
    x_tr, y_tr, x_te, y_te = load_cifar10(tmp_path)
    assert x_tr.shape == (30, 3, 32, 32) and x_tr.dtype == torch.uint8
    assert y_tr.shape == (30,) and x_te.shape == (6, 3, 32, 32) and y_te.max() < 10
    # The pickle stores rows as R-plane, G-plane, B-plane: check one pixel round-trips.
    import pickle
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "rb") as f:
        raw = pickle.load(f, encoding="bytes")[b"data"]
    assert x_te[2, 1, 0, 5].item() == raw[2, 1024 + 5]
    z = normalize(x_tr)
    assert z.dtype == torch.float32 and z.shape == x_tr.shape


def test_cifar10_missing_files_are_named_with_a_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_dir is None"):
        load_cifar10(None)
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(FileNotFoundError, match=r"data_batch_1.*test_batch.*cifar-10-python.tar.gz"):
        load_cifar10(tmp_path)


def test_random_crop_flip_is_deterministic_and_keeps_shape():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    a = random_crop_flip(x, torch.Generator().manual_seed(0), pad=2)
    b = random_crop_flip(x, torch.Generator().manual_seed(0), pad=2)
    assert a.shape == x.shape and torch.equal(a, b)
    unpadded = random_crop_flip(x, torch.Generator().manual_seed(0), pad=0)
    for img, out in zip(x, unpadded):  # without padding only flips remain
        assert torch.equal(out, img) or torch.equal(out, img.flip(-1))


def test_cifar_batches_load_with_a_data_only_unpickler(tmp_path):
    import os
    import pickle

    from robustbook.data import safe_pickle
    from robustbook.data.cifar import write_cifar10_batch

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8)
    write_cifar10_batch(tmp_path / "ok", images, np.array([1, 2, 3]))
    batch = safe_pickle.load(tmp_path / "ok")
    assert np.array_equal(batch[b"data"].reshape(3, 3, 32, 32), images) and batch[b"labels"] == [1, 2, 3]

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    (tmp_path / "bad").write_bytes(pickle.dumps({b"data": Exploit()}))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load (posix|os)\.system"):
        safe_pickle.load(tmp_path / "bad")
    assert not (tmp_path / "pwned").exists()
    # a protocol-2 pickle (as CIFAR-10's Python 2 files are) of an array loads too
    (tmp_path / "p2").write_bytes(pickle.dumps({b"x": np.arange(4)}, protocol=2))
    assert safe_pickle.load(tmp_path / "p2")[b"x"].tolist() == [0, 1, 2, 3]
