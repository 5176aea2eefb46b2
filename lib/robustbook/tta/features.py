"""How far a feature shift is from a *single scaling variable* (Kim et al., 2024, Sec. 5, after
Miller et al., 2021, Thm. 1).

Miller et al.'s condition for exact accuracy-on-the-line of linear classifiers: ID class-conditional
features N(mu_y, Sigma), OOD features N(alpha mu_y, gamma^2 Sigma) — the OOD class means are the ID
ones scaled by one number and the covariance by another. Then every linear classifier w through
the origin has probit(Acc_OOD) = (alpha / gamma) probit(Acc_ID): one line, slope alpha / gamma.

For penultimate features of one model on ID and OOD data we measure (our operationalisation):

* ``mean_residual``: with class means centred on the dataset mean, M (C, D), the best scale
  alpha = <M_ood, M_id> / ||M_id||^2 and the share of ||M_ood||^2 it leaves unexplained,
  ||M_ood - alpha M_id||^2 / ||M_ood||^2 (0: the mean shift is a pure scaling);
* ``cov_residual``: the same for the within-class covariances, gamma^2 = <S_ood, S_id>_F / ||S_id||_F^2
  and ||S_ood - gamma^2 S_id||_F^2 / ||S_ood||_F^2 (0: the covariance shift is a pure scaling);
* ``offset``: the shift of the dataset mean, ||g_ood - g_id||, in units of the ID within-class
  spread sqrt(tr S_id) (a common offset is not a scaling; it breaks the line through the origin);
* ``slope``: the theory slope alpha / gamma.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class ScalingFit:
    alpha: float
    gamma: float
    mean_residual: float
    cov_residual: float
    offset: float

    @property
    def slope(self) -> float:
        return self.alpha / self.gamma

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "slope": self.slope}


def class_means(feats: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(C, D) mean feature of each class; feats (N, D), y (N,). A class without samples is an error."""
    counts = torch.bincount(y, minlength=n_classes).to(feats.dtype)
    if bool((counts == 0).any()):
        raise ValueError(f"classes without samples: {torch.nonzero(counts == 0).flatten().tolist()}")
    sums = torch.zeros(n_classes, feats.shape[1], dtype=feats.dtype).index_add_(0, y, feats)
    return sums / counts[:, None]


def within_class_cov(feats: torch.Tensor, y: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """(D, D) pooled within-class covariance: mean over samples of (x - mu_y)(x - mu_y)^T."""
    r = feats - means[y]
    return r.T @ r / len(feats)


def _scale_fit(target: torch.Tensor, source: torch.Tensor) -> tuple[float, float]:
    """Least-squares scale s with target ~ s * source, and the unexplained share of ||target||^2."""
    s = float((target * source).sum() / (source * source).sum())
    resid = float(((target - s * source) ** 2).sum() / (target * target).sum())
    return s, resid


def scaling_fit(f_id: torch.Tensor, y_id: torch.Tensor, f_ood: torch.Tensor, y_ood: torch.Tensor,
                n_classes: int) -> ScalingFit:
    """The single-scaling measures of one model's features: f_id (N, D), f_ood (M, D)."""
    f_id, f_ood = f_id.double(), f_ood.double()
    mu_id, mu_ood = class_means(f_id, y_id, n_classes), class_means(f_ood, y_ood, n_classes)
    g_id, g_ood = f_id.mean(0), f_ood.mean(0)
    alpha, mean_resid = _scale_fit(mu_ood - g_ood, mu_id - g_id)
    s_id, s_ood = within_class_cov(f_id, y_id, mu_id), within_class_cov(f_ood, y_ood, mu_ood)
    gamma2, cov_resid = _scale_fit(s_ood, s_id)
    offset = float(torch.linalg.vector_norm(g_ood - g_id) / torch.sqrt(torch.trace(s_id)))
    return ScalingFit(alpha, max(gamma2, 1e-12) ** 0.5, mean_resid, cov_resid, offset)
