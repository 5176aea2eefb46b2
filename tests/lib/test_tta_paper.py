"""robustbook.tta.paper: the classifier split at its last linear layer, the CIFAR-10 test / -10-C
readers on tiny files in the real formats, and the inputs check naming what is missing."""

import numpy as np
import pytest
import torch
from torch import nn

from robustbook.data.cifar import normalize, write_cifar10_batch
from robustbook.data.cifar_shifts import write_cifar10_c
from robustbook.tta import adapt, predict
from robustbook.tta.paper import MODELS_FOLDER, SingleModel, check_paper_inputs, load_cifar10_test, load_shift


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 10))).eval()


def test_single_model_splits_at_the_last_linear_layer():
    net, x = _net(), torch.randn(5, 3, 8, 8)
    single = SingleModel(net).eval()
    assert torch.allclose(single(x)[:, 0], net(x), atol=1e-6)
    assert single.features(x).shape == (5, 1, 6) and isinstance(single.head_layer, nn.Linear)
    assert isinstance(net[5][2], nn.Linear)  # the original keeps its head
    logits, feats = predict(adapt(single, "tent", x, batch_size=5, lr=0.1), x, 5, with_features=True)
    assert logits.shape == (1, 5, 10) and feats.shape == (1, 5, 6)
    with pytest.raises(ValueError, match="no nn.Linear"):
        SingleModel(nn.Sequential(nn.Conv2d(3, 2, 1)))


def test_readers_and_inputs_check_on_tiny_files(tmp_path):
    rng = np.random.default_rng(1)
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py/test_batch.*CIFAR-10-C/fog.npy"):
        check_paper_inputs(tmp_path, ("fog",), ("a", "b", "c"))
    (tmp_path / "cifar-10-batches-py").mkdir()
    images, labels = rng.integers(0, 256, (7, 3, 32, 32), dtype=np.uint8), np.arange(7)
    write_cifar10_batch(tmp_path / "cifar-10-batches-py" / "test_batch", images, labels)
    shifted = rng.integers(0, 256, (5, 7, 32, 32, 3), dtype=np.uint8)
    write_cifar10_c(tmp_path / "CIFAR-10-C", "fog", shifted, labels)
    with pytest.raises(FileNotFoundError, match=f"{MODELS_FOLDER}/b.pt, {MODELS_FOLDER}/c.pt"):
        (tmp_path / MODELS_FOLDER).mkdir()
        torch.save({}, tmp_path / MODELS_FOLDER / "a.pt")
        check_paper_inputs(tmp_path, ("fog",), ("a", "b", "c"))
    with pytest.raises(ValueError, match="at least 3 models"):
        check_paper_inputs(tmp_path, ("fog",), ("a",))
    x, y = load_cifar10_test(tmp_path, n=5)
    assert torch.allclose(x, normalize(torch.from_numpy(images[:5]))) and y.tolist() == [0, 1, 2, 3, 4]
    s3 = load_shift(tmp_path, "fog", 3)
    assert torch.allclose(s3, normalize(torch.from_numpy(shifted[2].transpose(0, 3, 1, 2).copy())))
