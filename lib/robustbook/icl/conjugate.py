"""Conjugate prompts for in-context regression (Kotha et al., 2024, Sec. 4): a transformation
``s`` of the prompt that keeps the task's answer recoverable exactly, applied so the prompt looks
less like the fine-tuning data, with the inverse applied to the model's output.

``scale_inputs``: x -> c x with y unchanged; the implied weights are w / c and the answer at the
query ``<w / c, c x_q> = <w, x_q>`` is unchanged, so the output inverse is the identity.
``scale_targets``: y -> c y (implied weights c w); the inverse divides the output by c.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

MODES = ("inputs", "targets")


def _check_c(c: float) -> None:
    try:
        ok = not isinstance(c, bool) and math.isfinite(c) and c != 0
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"c must be a finite nonzero number (the transform must be invertible), got {c!r}")

Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def scale_inputs(x: torch.Tensor, y: torch.Tensor, c: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The conjugate prompt (c x, y); ``c`` must be nonzero."""
    _check_c(c)
    return c * x, y


def unscale_inputs(x: torch.Tensor, y: torch.Tensor, c: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of ``scale_inputs``: (x / c, y)."""
    _check_c(c)
    return x / c, y


def scale_targets(x: torch.Tensor, y: torch.Tensor, c: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The conjugate prompt (x, c y); the model's output must be divided by ``c``."""
    _check_c(c)
    return x, c * y


def conjugate_predict(predict: Predictor, x: torch.Tensor, y: torch.Tensor, c: float,
                      mode: str = "inputs") -> torch.Tensor:
    """Predictions (B, k) for the original prompt via the conjugate prompt: transform, predict,
    invert the output (identity for ``mode="inputs"``, divide by ``c`` for ``"targets"``)."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'inputs' or 'targets', got {mode!r}")
    if mode == "inputs":
        return predict(*scale_inputs(x, y, c))
    if mode == "targets":
        return predict(*scale_targets(x, y, c)) / c
    raise ValueError(f"mode must be 'inputs' or 'targets', got {mode!r}")
