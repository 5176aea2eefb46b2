"""Optimizers: SAM (the familiar optimizer API) and the SAM family of gradients (SAM, L-SAM, J-SAM,
per-example 1-SAM or mini-batch), plus the explicit penalties that mimic J-SAM."""

from robustbook.optim.penalties import feature_norm_penalty, last_layer_weight_penalty
from robustbook.optim.sam import SAM, frozen_bn_stats
from robustbook.optim.sam_family import VARIANTS, family_gradient, set_gradients

__all__ = [
    "SAM",
    "VARIANTS",
    "family_gradient",
    "feature_norm_penalty",
    "frozen_bn_stats",
    "last_layer_weight_penalty",
    "set_gradients",
]
