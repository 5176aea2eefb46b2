"""Group robustness (Kulkarni et al., 2024; Liu et al., 2021): group-annotated spurious-correlation
data, worst-group metrics and model selection, JTT, and a multitask model (shared trunk,
classifier head, reconstruction decoder) trained many-at-once for seeds x methods.

Group labels are used only to *select* checkpoints on validation data, never to train."""

from robustbook.groups.data import GroupData, digits_patch_task, masked_units, synthetic_spurious_task
from robustbook.groups.jtt import error_set, upsample_pool
from robustbook.groups.metrics import (
    average_accuracy,
    group_accuracy,
    group_ids,
    select_by_worst_group,
    worst_group_accuracy,
)
from robustbook.groups.model import StackedMTL, mtl_loss
from robustbook.groups.train import MethodSpec, TrainHistory, train_stacked

__all__ = ["GroupData", "MethodSpec", "StackedMTL", "TrainHistory", "average_accuracy",
           "digits_patch_task", "error_set", "group_accuracy", "group_ids", "masked_units",
           "mtl_loss", "select_by_worst_group", "synthetic_spurious_task", "train_stacked",
           "upsample_pool", "worst_group_accuracy"]
