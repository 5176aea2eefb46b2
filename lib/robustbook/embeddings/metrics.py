"""Scores for embeddings: triplet accuracy, retrieval (top-1, MRR, nDCG@10), STS Spearman, a
linear probe. Embeddings are (N, d) tensors or arrays; similarities are cosine."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

TIE_TOLERANCE = 1e-5


def _tensor(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).double()


def _check_rows(a: torch.Tensor, b: torch.Tensor, names: str, same_n: bool) -> None:
    first, second = names.split(", ")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or (same_n and a.shape[0] != b.shape[0]):
        shape = "(N, d) with the same N and d" if same_n else "(N, d) and (M, d) with the same d"
        raise ValueError(f"{first} and {second} must be {shape}, got {tuple(a.shape)} and {tuple(b.shape)}")


def cosine_matrix(a, b) -> torch.Tensor:
    """Cosine similarities (N, M) between rows of ``a`` (N, d) and ``b`` (M, d), in float64."""
    a, b = _tensor(a), _tensor(b)
    _check_rows(a, b, "a, b", same_n=False)
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    b = b / b.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return a @ b.T


def pairwise_cosine(a, b) -> torch.Tensor:
    """cos(a_i, b_i) for matching rows of ``a`` and ``b`` (N, d) -> (N,)."""
    a, b = _tensor(a), _tensor(b)
    _check_rows(a, b, "a, b", same_n=True)
    return torch.nn.functional.cosine_similarity(a, b, dim=1, eps=1e-12)


def triplet_margins(anchor, positive, negative) -> torch.Tensor:
    """cos(anchor, positive) - cos(anchor, negative) per triplet -> (N,)."""
    anchor, positive, negative = _tensor(anchor), _tensor(positive), _tensor(negative)
    _check_rows(anchor, positive, "anchor, positive", same_n=True)
    _check_rows(anchor, negative, "anchor, negative", same_n=True)
    return pairwise_cosine(anchor, positive) - pairwise_cosine(anchor, negative)


def _check_tolerance(tie_tolerance: float) -> None:
    if not (isinstance(tie_tolerance, (int, float, np.floating)) and 0 <= tie_tolerance < np.inf):
        raise ValueError(f"tie_tolerance must be a finite number >= 0, got {tie_tolerance!r}")


def _check_nonempty(values: torch.Tensor, what: str) -> None:
    if len(values) == 0:
        raise ValueError(f"need at least one of the {what}, got 0 (the score would be NaN)")


def triplet_accuracy(anchor, positive, negative, tie_tolerance: float = TIE_TOLERANCE) -> float:
    """Fraction of triplets with cos(a, p) > cos(a, n); a tie (|margin| <= ``tie_tolerance``)
    counts 1/2, the expected score of a coin flip. Chance is therefore exactly 0.5."""
    _check_tolerance(tie_tolerance)
    m = triplet_margins(anchor, positive, negative)
    _check_nonempty(m, "triplets")
    ties = m.abs() <= tie_tolerance
    return float(((m > tie_tolerance).double() + 0.5 * ties.double()).mean())


def tie_fraction(anchor, positive, negative, tie_tolerance: float = TIE_TOLERANCE) -> float:
    """Fraction of triplets whose two similarities are equal within ``tie_tolerance``."""
    _check_tolerance(tie_tolerance)
    return float((triplet_margins(anchor, positive, negative).abs() <= tie_tolerance).double().mean())


def sts_spearman(first, second, gold) -> float:
    """Spearman correlation between cos(first_i, second_i) and the gold scores (MTEB's STS score)."""
    cos = pairwise_cosine(first, second).numpy()
    gold = np.asarray(gold, dtype=float)
    if gold.shape != cos.shape or len(cos) < 2:
        raise ValueError(f"gold must hold one score per pair, at least 2 pairs; got {gold.shape[0] if gold.ndim else gold} "
                         f"scores for {len(cos)} pairs")
    return float(spearmanr(cos, np.asarray(gold, dtype=float)).statistic)


def _dcg(gains: np.ndarray) -> float:
    return float((gains / np.log2(np.arange(2, len(gains) + 2))).sum())


def retrieval_scores(queries, documents, relevance, k: int = 10) -> dict[str, float]:
    """Rank ``documents`` (D, d) for each of ``queries`` (Q, d) by cosine; ``relevance`` (Q, D) is
    binary. Returns mean top-1 accuracy, MRR and nDCG@k (ties broken by document order)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1 (nDCG@k), got {k!r}")
    rel = np.asarray(relevance, dtype=float)
    if rel.shape != (len(queries), len(documents)) or not rel.any(axis=1).all():
        raise ValueError("relevance must be (Q, D) with at least one relevant document per query")
    sims = cosine_matrix(queries, documents).numpy()
    ranking = np.argsort(-sims, axis=1, kind="stable")
    ranked = np.take_along_axis(rel, ranking, axis=1)
    first_hit = ranked.argmax(axis=1)
    ideal = -np.sort(-rel, axis=1)[:, :k]
    ndcg = [_dcg(r[:k]) / _dcg(i) for r, i in zip(ranked, ideal)]
    return {"top1": float(ranked[:, 0].mean()), "mrr": float((1.0 / (first_hit + 1)).mean()),
            f"ndcg_at_{k}": float(np.mean(ndcg))}


def probe_accuracy(train_x, train_y, test_x, test_y, c: float = 1.0, seed: int = 0) -> float:
    """Test accuracy of a linear probe (standardised features, multinomial logistic regression
    with inverse L2 strength ``c``) trained on (train_x (N, d), train_y (N,))."""
    if not (isinstance(c, (int, float, np.floating)) and 0 < c < np.inf):
        raise ValueError(f"c (inverse L2 strength) must be a finite number > 0, got {c!r}")
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed))
    probe.fit(np.asarray(train_x, dtype=np.float64), np.asarray(train_y))
    return float(probe.score(np.asarray(test_x, dtype=np.float64), np.asarray(test_y)))
