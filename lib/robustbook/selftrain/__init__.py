"""Contrastive learning and self-training (Garg et al., 2023): losses, the linear theory model's
closed-form contrastive encoder and entropy-minimisation self-training, batched image
augmentations, and the ERM / SimCLR / FixMatch / STOC training routines for images."""

from robustbook.selftrain.linear import (
    entropy_self_train,
    fit_logistic,
    fit_spectral_sgd,
    linear_accuracy,
    population_spectral_loss,
    second_moment,
    spectral_closed_form,
    spectral_optimum_value,
    subspace_alignment,
)
from robustbook.selftrain.losses import entropy_loss, fixmatch_loss, nt_xent_loss, spectral_contrastive_loss

__all__ = ["entropy_loss", "entropy_self_train", "fit_logistic", "fit_spectral_sgd", "fixmatch_loss",
           "linear_accuracy", "nt_xent_loss", "population_spectral_loss", "second_moment",
           "spectral_closed_form", "spectral_contrastive_loss", "spectral_optimum_value",
           "subspace_alignment"]
