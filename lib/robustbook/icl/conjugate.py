"""Conjugate prompts for in-context regression (Kotha et al., 2024, Sec. 4): a transformation
``s`` of the prompt that keeps the task's answer recoverable exactly, applied so the prompt looks
less like the fine-tuning data, with the inverse applied to the model's output.

``scale_inputs``: x -> c x with y unchanged; the implied weights are w / c and the answer at the
query ``<w / c, c x_q> = <w, x_q>`` is unchanged, so the output inverse is the identity.
``scale_targets``: y -> c y (implied weights c w); the inverse divides the output by c.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def scale_inputs(x: torch.Tensor, y: torch.Tensor, c: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The conjugate prompt (c x, y); ``c`` must be nonzero."""
    if c == 0:
        raise ValueError("c must be nonzero (the transform must be invertible)")
    return c * x, y


def unscale_inputs(x: torch.Tensor, y: torch.Tensor, c: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of ``scale_inputs``: (x / c, y)."""
    return x / c, y


def scale_targets(x: torch.Tensor, y: torch.Tensor, c: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The conjugate prompt (x, c y); the model's output must be divided by ``c``."""
    if c == 0:
        raise ValueError("c must be nonzero (the transform must be invertible)")
    return x, c * y


def conjugate_predict(predict: Predictor, x: torch.Tensor, y: torch.Tensor, c: float,
                      mode: str = "inputs") -> torch.Tensor:
    """Predictions (B, k) for the original prompt via the conjugate prompt: transform, predict,
    invert the output (identity for ``mode="inputs"``, divide by ``c`` for ``"targets"``)."""
    if mode == "inputs":
        return predict(*scale_inputs(x, y, c))
    if mode == "targets":
        return predict(*scale_targets(x, y, c)) / c
    raise ValueError(f"mode must be 'inputs' or 'targets', got {mode!r}")
