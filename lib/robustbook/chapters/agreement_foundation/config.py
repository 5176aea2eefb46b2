"""Chapter 03's parameters: ``Config`` (what a user sets) and ``Settings`` (resolved by preset).

Knobs left at ``None`` take the preset's value. Preset ``cpu``: a one-hidden-layer MLP pretrained
inside the chapter on digits 0-4 only (the "foundation model", then frozen), linear heads on all ten
digits, shifts from ``imagecorruptions``. Its head hyperparameters (lr, init scale, training
lengths) and the claims' thresholds were chosen on tuning seeds 100-104, never on the reported
seeds 0-4. Preset ``paper``: OpenCLIP ViT-B/32 (LAION-2B) linear probes on CIFAR-10, evaluated on
CIFAR-10.1 and CIFAR-10-C (Saxena et al., 2024, Sec. 4); the probe hyperparameters there are ours
(the paper's brief gives none) and have not been run at that scale here.

The language version (``text_models`` > 0; cpu and smoke) puts the same linear heads, with the
same hyperparameters, on frozen all-MiniLM-L6-v2 embeddings of a topic-classification task whose
test posts are re-rendered under vocabulary, style and typo shifts (``robustbook.data.text_topics``).
"""

from __future__ import annotations

from dataclasses import dataclass

from robustbook.book.config import ChapterConfig, CommonSettings, require, require_positive_ints
from robustbook.data.cifar_shifts import (
    CIFAR10_C_CORRUPTIONS,
    check_corruption_list,
    check_files,
    check_severity_list,
    required_files,
)
from robustbook.models.open_clip_weights import check_open_clip_weights

CPU_CORRUPTIONS = ("gaussian_noise", "impulse_noise", "defocus_blur", "elastic_transform", "snow")
TUNING_SEEDS = (100, 101, 102, 103, 104)  # thresholds and cpu hyperparameters were chosen on these


@dataclass(frozen=True)
class Settings(CommonSettings):
    """Every knob resolved to a concrete value (what ``run`` uses)."""

    backbone: str             # "digits-mlp" (cpu, smoke) or "open_clip" (paper)
    n_models: int
    min_epochs: int
    max_epochs: int
    lr: float
    batch_size: int
    head_init_scale: float
    subset_fraction: float
    corruptions: tuple[str, ...]
    severities: tuple[int, ...]
    n_train: int | None
    backbone_width: int
    pretrain_classes: int
    pretrain_epochs: int
    clip_model: str
    clip_pretrained: str | None
    cross_models: int
    text_models: int
    text_train: int
    text_test: int


_CPU = dict(backbone="digits-mlp", n_seeds=5, n_models=24, min_epochs=1, max_epochs=16, lr=0.005,
            batch_size=32, head_init_scale=3.0, subset_fraction=0.1, corruptions=CPU_CORRUPTIONS,
            severities=(1, 3, 5), n_train=None, cross_models=12, text_models=24, text_train=1000,
            text_test=300)
PRESETS: dict[str, dict] = {
    "smoke": {**_CPU, "n_seeds": 1, "n_models": 6, "max_epochs": 3, "cross_models": 3, "text_models": 6,
              "text_train": 200, "text_test": 100,
              "corruptions": ("gaussian_noise", "defocus_blur"), "severities": (3,)},
    "cpu": _CPU,
    "paper": {**_CPU, "backbone": "open_clip", "n_seeds": 3, "batch_size": 256, "max_epochs": 10,
              "head_init_scale": 1.0, "corruptions": CIFAR10_C_CORRUPTIONS, "severities": (1, 2, 3, 4, 5),
              "cross_models": 0, "text_models": 0},
}


@dataclass(frozen=True)
class Config(ChapterConfig):
    SETTINGS = Settings
    PRESETS = PRESETS

    data_dir: str | None = None            # paper preset: folder holding cifar-10-batches-py/, CIFAR-10.1/, CIFAR-10-C/
    n_seeds: int | None = None             # reported seeds averaged over (None: the preset's, cpu 5, paper 3)
    n_models: int | None = None            # fine-tunes per ensemble, at least 3 (cpu 24)
    min_epochs: int | None = None          # shortest fine-tune in epochs (1)
    max_epochs: int | None = None          # longest fine-tune in epochs (cpu 16, paper 10)
    lr: float | None = None                # SGD learning rate of the linear heads (0.005)
    batch_size: int | None = None          # mini-batch size (cpu 32, paper 256)
    head_init_scale: float | None = None   # multiplies torch's default head init (cpu 3, paper 1)
    subset_fraction: float | None = None   # data-subset ensemble: share of the training set per head (0.1)
    corruptions: tuple | None = None       # corruption names (cpu: 5 of imagecorruptions; paper: all of CIFAR-10-C)
    severities: tuple | None = None        # corruption severities in 1..5 (cpu 1, 3, 5; paper 1 to 5)
    n_train: int | None = None             # keep only this many training examples (None: all)
    backbone_width: int = 128              # cpu: hidden width of the pretrained MLP, i.e. the feature size
    pretrain_classes: int = 5              # cpu: the MLP is pretrained on digits 0 .. pretrain_classes - 1
    pretrain_epochs: int = 20              # cpu: pretraining epochs (Adam)
    clip_model: str = "ViT-B-32"           # paper: open_clip model name
    clip_pretrained: str = "laion2b_s34b_b79k"  # paper: open_clip tag (in the local cache) or weights file path
    cross_models: int | None = None        # cpu: random-head fine-tunes per backbone in the mixed-backbone ensemble (12; 0 skips)
    text_models: int | None = None         # language version (MiniLM, shifted text): heads per ensemble (cpu 24; 0 skips)
    text_train: int | None = None          # language version: training posts in the pool (1000; each seed uses 80%)
    text_test: int | None = None           # language version: test posts, re-rendered under each text shift (300)

    def require_data(self) -> None:
        """Paper preset: the CIFAR-10 / -10.1 / -10-C files and the open_clip weights must be local
        (the error names each missing file and where it goes)."""
        s = self.resolve()
        if s.backbone == "open_clip":
            check_files(s.data_dir, required_files(corruptions=s.corruptions))
            check_open_clip_weights(s.clip_model, s.clip_pretrained)

    def check(self) -> None:
        require_positive_ints(self, "min_epochs", "max_epochs", "batch_size", "n_train",
                              "backbone_width", "pretrain_epochs", "text_test")
        require(self.cross_models is None or (isinstance(self.cross_models, int) and
                                              (self.cross_models == 0 or self.cross_models >= 3)),
                f"cross_models must be 0 or an integer >= 3, got {self.cross_models!r}")
        require(self.text_models is None or (isinstance(self.text_models, int) and
                                             (self.text_models == 0 or self.text_models >= 3)),
                f"text_models must be 0 or an integer >= 3, got {self.text_models!r}")
        require(self.text_train is None or (isinstance(self.text_train, int) and self.text_train >= 10),
                f"text_train must be an integer >= 10, got {self.text_train!r}")
        require(self.n_models is None or (isinstance(self.n_models, int) and self.n_models >= 3),
                f"n_models must be an integer >= 3 (ALine-D needs three models), got {self.n_models!r}")
        require(self.min_epochs is None or self.max_epochs is None or self.min_epochs <= self.max_epochs,
                f"min_epochs ({self.min_epochs}) must be <= max_epochs ({self.max_epochs})")
        for name in ("lr", "head_init_scale"):
            value = getattr(self, name)
            require(value is None or value > 0, f"{name} must be > 0, got {value}")
        require(self.subset_fraction is None or 0 < self.subset_fraction <= 1,
                f"subset_fraction must be in (0, 1], got {self.subset_fraction}")
        require(2 <= self.pretrain_classes <= 10,
                f"pretrain_classes must be in [2, 10], got {self.pretrain_classes}")
        if self.corruptions is not None:
            check_corruption_list(self.corruptions)
        if self.severities is not None:
            check_severity_list(self.severities)

    def resolve(self) -> Settings:
        """Every ``None`` knob from the preset; min_epochs <= max_epochs after filling."""
        s = super().resolve()
        require(s.min_epochs <= s.max_epochs,
                f"min_epochs ({s.min_epochs}) must be <= max_epochs ({s.max_epochs})")
        return s
