"""Test-time adaptation (BN_Adapt, TENT, ETA), a batched zoo of small BatchNorm models, and the
feature-statistics measures of the single-scaling condition (Kim et al., 2024)."""

from robustbook.tta.adapt import (
    Eta,
    Tent,
    bn_adapt,
    bn_layers,
    check_model,
    collect_params,
    configure_model,
    entropy_loss,
    eta_filter,
    softmax_entropy,
    update_moving_probs,
    use_batch_statistics,
)
from robustbook.tta.evaluate import METHOD_LABELS, TTA_METHODS, adapt, batches, predict
from robustbook.tta.features import ScalingFit, class_means, scaling_fit, within_class_cov
from robustbook.tta.zoo import (
    Arch,
    GroupedCNN,
    GroupedLinear,
    GroupedMLP,
    stack_states,
    train_snapshots,
)

__all__ = ["METHOD_LABELS", "TTA_METHODS", "adapt", "batches", "predict", "Arch", "Eta", "GroupedCNN", "GroupedLinear", "GroupedMLP", "ScalingFit", "Tent",
           "bn_adapt", "bn_layers", "check_model", "class_means", "collect_params",
           "configure_model", "entropy_loss", "eta_filter", "scaling_fit",
           "softmax_entropy", "stack_states", "train_snapshots", "update_moving_probs",
           "use_batch_statistics", "within_class_cov"]
