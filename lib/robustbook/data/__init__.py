"""Datasets: packaged (shipped inside pip packages), synthetic generators, label noise, and loaders
for real datasets read from a local ``data_dir``."""

from robustbook.data.noise import symmetric_label_noise
from robustbook.data.packaged import load_digits_split
from robustbook.data.synthetic import gaussian_binary_classification
from robustbook.data.tensors import TensorSplit

__all__ = ["TensorSplit", "gaussian_binary_classification", "load_digits_split",
           "symmetric_label_noise"]
