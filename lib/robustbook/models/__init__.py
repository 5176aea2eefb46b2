"""Models: small MLPs and linear networks for CPU chapters, ResNet-18 (GroupNorm) for paper presets."""

from robustbook.models.resnet import resnet18_gn
from robustbook.models.small import MLP, LinearClassifier, TwoLayerLinear

__all__ = ["LinearClassifier", "MLP", "TwoLayerLinear", "resnet18_gn"]
