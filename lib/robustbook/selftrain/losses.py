"""Losses of contrastive learning and self-training, written for this book.

- ``spectral_contrastive_loss``: HaoChen et al. (2021), the loss the theory of Garg et al. (2023,
  Sec. 4) analyses: ``-2 E[f(x)^T f(x+)] + E[(f(x)^T f(x'))^2]``.
- ``nt_xent_loss``: SimCLR's normalised-temperature cross entropy (Chen et al., 2020, Eq. 1).
- ``fixmatch_loss``: Sohn et al. (2020): supervised CE + lambda * masked CE of the strong view on
  the weak view's hard pseudo-label, mask = [max softmax(weak) >= tau].
- ``entropy_loss``: mean prediction entropy (entropy-minimisation self-training).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from robustbook._checks import check_number, require


def _check_pairs(z1: torch.Tensor, z2: torch.Tensor) -> None:
    require(z1.ndim == 2 and z1.shape == z2.shape,
            f"z1 and z2 must both be (B, k) with row i a positive pair, got {tuple(z1.shape)} and {tuple(z2.shape)}")


def spectral_contrastive_loss(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """z1, z2 (B, k): features of two augmentations of the same B points (row i of z1 and row i
    of z2 are a positive pair). Positive term over the B pairs; the negative term averages
    (z1_i . z2_j)^2 over the B(B-1) pairs i != j (independent points)."""
    _check_pairs(z1, z2)
    b = z1.shape[0]
    if b < 2:
        raise ValueError("spectral contrastive loss needs a batch of at least 2 pairs")
    positive = (z1 * z2).sum(1).mean()
    gram = z1 @ z2.T                                       # (B, B)
    off = ~torch.eye(b, dtype=torch.bool, device=z1.device)
    return -2.0 * positive + (gram[off] ** 2).mean()


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """SimCLR's NT-Xent over 2B views. z1, z2 (B, k) projections of two augmentations; each view's
    positive is its partner, its negatives the other 2B - 2 views; cosine similarity / temperature.
    Mean over the 2B anchors."""
    check_number("temperature", temperature, low=0, low_open=True)
    _check_pairs(z1, z2)
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)            # (2B, k)
    sim = z @ z.T / temperature                            # (2B, 2B)
    sim = sim.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return F.cross_entropy(sim, partner)


def fixmatch_loss(logits_labelled: torch.Tensor, y: torch.Tensor, logits_weak: torch.Tensor,
                  logits_strong: torch.Tensor, *, tau: float = 0.9, lam: float = 1.0
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """FixMatch (Sohn et al., 2020, Eq. 2-4). logits_labelled (B, C), y (B,); logits_weak and
    logits_strong (U, C) of the weak and strong view of U unlabelled points. The pseudo-label is
    argmax of the (detached) weak view; the unlabelled term averages over all U (masked points
    contribute 0). Returns (loss, mask (U,) bool)."""
    check_number("tau", tau, low=0)  # tau > 1 is allowed: no pseudo-label passes (tested)
    check_number("lam", lam, low=0)
    require(logits_labelled.ndim == 2 and tuple(y.shape) == (logits_labelled.shape[0],),
            f"logits_labelled must be (B, C) and y (B,), got {tuple(logits_labelled.shape)} and {tuple(y.shape)}")
    require(logits_weak.ndim == 2 and logits_weak.shape == logits_strong.shape,
            f"logits_weak and logits_strong must both be (U, C), got {tuple(logits_weak.shape)} and "
            f"{tuple(logits_strong.shape)}")
    supervised = F.cross_entropy(logits_labelled, y)
    probs = logits_weak.detach().softmax(1)
    confidence, pseudo = probs.max(1)
    mask = confidence >= tau
    unlabelled = (F.cross_entropy(logits_strong, pseudo, reduction="none") * mask).mean()
    return supervised + lam * unlabelled, mask


def entropy_loss(logits: torch.Tensor) -> torch.Tensor:
    """Mean Shannon entropy (nats) of the predictions. logits (N, C), or (N,) for a binary
    model with p(y=+1) = sigmoid(logit)."""
    require(logits.ndim in (1, 2), f"logits must be (N, C) or (N,), got shape {tuple(logits.shape)}")
    if logits.ndim == 1:
        logits = torch.stack([torch.zeros_like(logits), logits], dim=1)
    logp = logits.log_softmax(1)
    return -(logp.exp() * logp).sum(1).mean()
