"""AutoFT's loss terms and the weighted fine-tuning objective (Choi et al., 2024, Sec. 3).

The learned objective is ``L(θ) = Σ_t w_t · term_t(θ)`` over the terms below; AutoFT searches the
weights ``w_t`` (together with lr, weight decay and seed) on a small OOD validation set.

Data terms, from logits z (B, C) and labels y (B,), each a mean over the batch:

* ``ce``      cross-entropy, -log softmax(z)_y.
* ``hinge``   multi-class hinge, Σ_{j≠y} relu(z_j - z_y + 1).
* ``entropy`` prediction entropy H(p) = -Σ_j p_j log p_j (a positive weight *minimises* entropy).
* ``dcm``     confidence minimisation on mistakes: -1[argmax z ≠ y] · H(p) (a positive weight
  *raises* the entropy of misclassified examples, lowering their confidence; the sign is ours,
  chosen so the term does what its name says).

Parameter terms, from the parameters θ and the pretrained ones θ₀, each divided by the parameter
count P (so their scale does not depend on the model size):

* ``l1init`` Σ|θ-θ₀|/P, ``l1zero`` Σ|θ|/P, ``l2init`` Σ(θ-θ₀)²/P, ``l2zero`` Σθ²/P.

The paper's contrastive FLYP term needs a text encoder and is not part of this space (the book's
CPU backbone has none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

DATA_TERMS = ("ce", "hinge", "entropy", "dcm")
PARAM_TERMS = ("l1init", "l1zero", "l2init", "l2zero")
TERMS = DATA_TERMS + PARAM_TERMS


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy; logits (B, C), y (B,)."""
    return F.cross_entropy(logits, y)


def hinge(logits: torch.Tensor, y: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Mean over the batch of Σ_{j≠y} relu(z_j - z_y + margin)."""
    z_y = logits.gather(1, y[:, None])                          # (B, 1)
    slack = (logits - z_y + margin).clamp_min(0)                 # (B, C); the j = y entry is `margin`
    slack = slack.scatter(1, y[:, None], 0.0)
    return slack.sum(1).mean()


def _entropies(logits: torch.Tensor) -> torch.Tensor:
    """H(softmax(z)) per example, (B,)."""
    logp = logits.log_softmax(1)
    return -(logp.exp() * logp).sum(1)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean prediction entropy H(p) over the batch (nats)."""
    return _entropies(logits).mean()


def dcm(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Confidence minimisation on mistakes: mean over the batch of -1[argmax z ≠ y]·H(p)."""
    wrong = (logits.argmax(1) != y).float()
    return -(wrong * _entropies(logits)).mean()


def param_terms(params: Sequence[torch.Tensor], params0: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
    """The four parameter terms (each divided by the parameter count P)."""
    n = sum(p.numel() for p in params)
    diffs = [p - p0 for p, p0 in zip(params, params0)]
    return {"l1init": sum(d.abs().sum() for d in diffs) / n,
            "l1zero": sum(p.abs().sum() for p in params) / n,
            "l2init": sum(d.pow(2).sum() for d in diffs) / n,
            "l2zero": sum(p.pow(2).sum() for p in params) / n}


def data_terms(logits: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The four data terms of a batch."""
    return {"ce": cross_entropy(logits, y), "hinge": hinge(logits, y), "entropy": entropy(logits),
            "dcm": dcm(logits, y)}


class WeightedObjective:
    """``L = Σ_t w_t · term_t`` for the terms with a non-zero weight (unknown names are an error).

    ``params0``: the pretrained parameters θ₀ (copied, detached), in ``model.parameters()`` order.
    """

    def __init__(self, weights: Mapping[str, float], params0: Sequence[torch.Tensor]) -> None:
        unknown = set(weights) - set(TERMS)
        if unknown:
            raise ValueError(f"unknown loss terms {sorted(unknown)}; known: {TERMS}")
        self.weights = {k: float(v) for k, v in weights.items() if v != 0}
        self.params0 = [p.detach().clone() for p in params0]

    def terms(self, logits: torch.Tensor, y: torch.Tensor,
              params: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every term (weighted or not), for logging and tests."""
        return {**data_terms(logits, y), **param_terms(list(params), self.params0)}

    def __call__(self, logits: torch.Tensor, y: torch.Tensor,
                 params: Sequence[torch.Tensor]) -> torch.Tensor:
        out = logits.new_zeros(())
        if any(k in DATA_TERMS for k in self.weights):
            data = data_terms(logits, y)
            out = out + sum(w * data[k] for k, w in self.weights.items() if k in DATA_TERMS)
        if any(k in PARAM_TERMS for k in self.weights):
            par = param_terms(list(params), self.params0)
            out = out + sum(w * par[k] for k, w in self.weights.items() if k in PARAM_TERMS)
        return out
