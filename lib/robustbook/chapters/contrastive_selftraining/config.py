"""Chapter 07's parameters: ``Config`` (what a user sets) and ``Settings`` (resolved by preset).

Theory model values follow the science brief's CPU setting (50 invariant dimensions, spurious
mean 4 and noise 0.1 in the source, N(0, 5^2) in the target, 100 labels, 5,000 unlabelled points per
domain, k = 2, sigma = 0.5). Image values (spurious colour probability 0.6, epochs, FixMatch
tau = 0.9, lambda = 1, mu = 3) were fixed on tuning seeds 100-102. Preset ``paper``: WILDS
Camelyon17 (hospitals 0-2 -> 4) with a ResNet-18 (GroupNorm), the paper's benchmark family.
"""

from __future__ import annotations

from dataclasses import dataclass

from robustbook.book.config import (
    ChapterConfig,
    CommonSettings,
    require,
    require_non_negative,
    require_positive_ints,
)
from robustbook.data.wilds_loaders import check_camelyon17

DATASETS = ("digits", "camelyon17")


@dataclass(frozen=True)
class Settings(CommonSettings):
    """Every knob resolved to a concrete value (what ``run`` uses)."""

    dim_inv: int
    mu_sp: float                # theory model: source spurious mean mu_sp * y (shift strength)
    n_labelled: int
    n_unlabelled: int
    contrastive_k: int
    aug_sigma: float
    l2: float
    st_steps: int
    st_lr: float
    logit_scale: float
    logit_scales: tuple[float, ...]
    sgd_steps: int
    image_dataset: str          # "digits" (cpu, smoke) or "camelyon17" (paper)
    max_images: int | None      # paper: patches per domain (None: all)
    backbone: str               # "tiny_cnn" or "resnet18"
    width: int
    p_spurious: float
    n_labels: int | None
    image_epochs: int
    simclr_epochs: int
    fixmatch_epochs: int
    tau: float
    lam: float
    mu: int
    temperature: float
    lr: float


_COMMON = dict(dim_inv=50, mu_sp=4.0, n_labelled=100, n_unlabelled=5000, contrastive_k=2, aug_sigma=0.5, l2=0.1,
               st_steps=300, st_lr=0.05, logit_scale=10.0, logit_scales=(3.0, 5.0, 10.0), sgd_steps=300,
               image_dataset="digits", max_images=None, backbone="tiny_cnn", width=16, p_spurious=0.6,
               n_labels=None, image_epochs=30, simclr_epochs=40, fixmatch_epochs=15, tau=0.9, lam=1.0,
               mu=3, temperature=0.5, lr=3e-3)
PRESETS: dict[str, dict] = {
    "smoke": {**_COMMON, "n_seeds": 2, "n_unlabelled": 300, "st_steps": 20, "sgd_steps": 10,
              "logit_scales": (5.0, 10.0), "n_labels": 100, "image_epochs": 1, "simclr_epochs": 1,
              "fixmatch_epochs": 1},
    "cpu": {**_COMMON, "n_seeds": 5},
    "paper": {**_COMMON, "n_seeds": 1, "image_dataset": "camelyon17", "max_images": 20000,
              "backbone": "resnet18", "width": 64, "image_epochs": 10, "simclr_epochs": 50,
              "fixmatch_epochs": 10, "mu": 7, "lr": 1e-3},
}


@dataclass(frozen=True)
class Config(ChapterConfig):
    SETTINGS = Settings
    PRESETS = PRESETS

    data_dir: str | None = None           # paper preset: folder holding camelyon17_v1.0/ (WILDS layout)
    n_seeds: int | None = None            # reported seeds averaged over (None: the preset's, cpu 5)
    p_spurious: float | None = None       # images: probability that a source digit has its label colour (cpu 0.6)
    n_labels: int | None = None           # images: labelled source images kept (None: all, about 600)
    n_labelled: int | None = None         # theory model: labelled source points (100)
    logit_scale: float | None = None      # theory model: self-training logit std on the target (10)
    image_epochs: int | None = None       # ERM and fine-tuning epochs on the labelled source (cpu 30)
    simclr_epochs: int | None = None      # SimCLR pretraining epochs on source + target (cpu 40)
    fixmatch_epochs: int | None = None    # FixMatch epochs over the unlabelled target (cpu 15)
    tau: float | None = None              # FixMatch confidence threshold tau (0.9)
    lam: float | None = None              # FixMatch weight lambda of the unlabelled term (1.0)

    def require_data(self) -> None:
        """Paper preset: the WILDS Camelyon17 folder must be under data_dir (names what is missing)."""
        if self.resolve().image_dataset == "camelyon17":
            check_camelyon17(self.data_dir)

    def check(self) -> None:
        require(self.p_spurious is None or 0 <= self.p_spurious <= 1,
                f"p_spurious must be in [0, 1], got {self.p_spurious}")
        require(self.tau is None or 0 < self.tau <= 1, f"tau must be in (0, 1], got {self.tau}")
        require(self.n_labelled is None or (isinstance(self.n_labelled, int) and self.n_labelled >= 2),
                f"n_labelled must be an integer >= 2, got {self.n_labelled!r}")
        require(self.logit_scale is None or self.logit_scale > 0,
                f"logit_scale must be > 0, got {self.logit_scale}")
        require_non_negative(self, "lam")
        require_positive_ints(self, "n_labels", "image_epochs", "simclr_epochs", "fixmatch_epochs")
