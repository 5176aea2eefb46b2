"""Chapter 06's parameters: ``Config`` (what a user sets) and ``Settings`` (resolved by preset).

Preset ``cpu``: scikit-learn's digits; the "foundation model" is an MLP pretrained inside the
chapter on digits 0-4 only, then fine-tuned (all weights) on all ten digits. The small OOD
validation set is one corruption (impulse noise, severity 5); the held-out OOD test shifts are eight other
corruptions the searches never see. Thresholds and expectations were fixed on tuning seeds
100-104 before the reported seeds ran (``claims.py``). Preset ``paper``: OpenCLIP ViT-B/16 fine-tuned
on WILDS iWildCam (ID train; OOD validation = 1,000 images of the OOD ``val`` split; OOD test =
the ``test`` split; macro-F1), read from ``data_dir`` — our reimplementation, not run at that
scale here.
"""

from __future__ import annotations

from dataclasses import dataclass

from robustbook.book.config import ChapterConfig, CommonSettings, require, require_positive_ints
from robustbook.data.iwildcam import check_iwildcam
from robustbook.models.open_clip_weights import check_open_clip_weights
from robustbook.shift.corruptions import corruption_names

TUNING_SEEDS = (100, 101, 102, 103, 104)
CPU_TEST_CORRUPTIONS = ("gaussian_noise", "defocus_blur", "motion_blur", "snow", "elastic_transform",
                        "contrast", "pixelate", "jpeg_compression")


@dataclass(frozen=True)
class Settings(CommonSettings):
    """Every knob resolved to a concrete value (what ``run`` uses)."""

    backbone: str            # "digits-mlp" (cpu, smoke) or "open_clip" (paper)
    metric: str              # "accuracy" (cpu) or "macro_f1" (paper, iWildCam)
    n_trials: int
    steps: int
    batch_size: int
    lr0: float
    wd0: float
    n_id_val: int
    n_ood_val: int
    ood_val_corruption: str
    ood_val_severity: int
    test_corruptions: tuple[str, ...]
    test_severity: int
    wise_alphas: tuple[float, ...]
    n_jobs: int
    storage_dir: str | None
    input_size: int
    backbone_width: int
    pretrain_classes: int
    pretrain_epochs: int
    clip_model: str
    clip_pretrained: str
    max_per_split: int | None

    @property
    def ood_val_shift(self) -> tuple[str, int]:
        return self.ood_val_corruption, self.ood_val_severity


_CPU = dict(backbone="digits-mlp", metric="accuracy", n_seeds=5, n_trials=24, steps=120,
            batch_size=64, lr0=1e-3, wd0=0.1, n_id_val=200, n_ood_val=100,
            test_corruptions=CPU_TEST_CORRUPTIONS, test_severity=3,
            wise_alphas=(0.0, 0.25, 0.5, 0.75, 1.0), max_per_split=None)
PRESETS: dict[str, dict] = {
    "smoke": {**_CPU, "n_seeds": 1, "n_trials": 3, "steps": 10, "test_corruptions": ("contrast", "pixelate"),
              "wise_alphas": (0.0, 0.5, 1.0)},
    "cpu": _CPU,
    "paper": {**_CPU, "backbone": "open_clip", "metric": "macro_f1", "n_trials": 500, "steps": 100,
              "batch_size": 128, "lr0": 1e-5, "wd0": 0.1, "n_ood_val": 1000, "n_seeds": 3},
}


@dataclass(frozen=True)
class Config(ChapterConfig):
    SETTINGS = Settings
    PRESETS = PRESETS

    data_dir: str | None = None            # paper preset: folder holding iwildcam_v2.0/ (metadata.csv, train/)
    n_seeds: int | None = None             # reported seeds, at least 3 at a judged preset (cpu 5, paper 3)
    n_trials: int | None = None            # trials per search (cpu 24, paper 500)
    steps: int | None = None               # mini-batch steps of every fine-tune, inner and final (cpu 120, paper 100)
    batch_size: int | None = None          # mini-batch size (cpu 64, paper 128)
    lr0: float | None = None               # fine-tuning lr; searches span lr0/100 to 100 lr0 (cpu 1e-3)
    wd0: float | None = None               # fine-tuning weight decay of the CE baseline (0.1)
    n_ood_val: int | None = None           # size of the small OOD validation set (cpu 100, paper 1000)
    n_jobs: int = 1                        # Optuna threads per search (1 keeps a search deterministic)
    storage_dir: str | None = None         # folder for the searches' SQLite files (None: in memory)
    ood_val_corruption: str = "impulse_noise"  # cpu: the one corruption the OOD validation set comes from
    ood_val_severity: int = 5              # cpu: its severity, 1 to 5
    test_corruptions: tuple | None = None  # cpu: held-out OOD test corruptions (never seen by a search)
    input_size: int = 16                   # cpu: corrupted 32-pixel digits are pooled to this side
    backbone_width: int = 128              # cpu: hidden width of the pretrained MLP
    pretrain_classes: int = 5              # cpu: the MLP is pretrained on digits 0 .. pretrain_classes - 1
    pretrain_epochs: int = 20              # cpu: pretraining epochs (Adam)
    clip_model: str = "ViT-B-16"           # paper: open_clip model name
    clip_pretrained: str = "openai"        # paper: open_clip tag (in the local cache) or weights file path
    max_per_split: int | None = None       # paper: keep at most this many images per iWildCam split

    def require_data(self) -> None:
        """Paper preset: iWildCam's metadata and images and the open_clip weights must be local
        (the error names what is missing and where it goes)."""
        s = self.resolve()
        if s.backbone == "open_clip":
            check_iwildcam(s.data_dir)
            check_open_clip_weights(s.clip_model, s.clip_pretrained)

    def check(self) -> None:
        require_positive_ints(self, "n_trials", "steps", "batch_size", "n_ood_val", "n_jobs",
                              "backbone_width", "pretrain_epochs", "max_per_split")
        require(self.n_seeds is None or self.preset == "smoke" or self.n_seeds >= 3,
                f"n_seeds must be >= 3 at a judged preset (claims need seeds), got {self.n_seeds}")
        require(self.lr0 is None or 0 < self.lr0 < 1, f"lr0 must be in (0, 1), got {self.lr0}")
        require(self.wd0 is None or 0 <= self.wd0 <= 1, f"wd0 must be in [0, 1], got {self.wd0}")
        require(self.n_ood_val is None or self.preset == "paper" or self.n_ood_val <= 200,
                f"n_ood_val must be <= 200 (the ID validation images it is made from), got {self.n_ood_val}")
        require(2 <= self.input_size <= 32, f"input_size must be in [2, 32], got {self.input_size}")
        require(2 <= self.pretrain_classes <= 10, f"pretrain_classes must be in [2, 10], got {self.pretrain_classes}")
        require(self.ood_val_severity in (1, 2, 3, 4, 5),
                f"ood_val_severity must be an integer in 1..5, got {self.ood_val_severity!r}")
        names = corruption_names()
        require(self.ood_val_corruption in names,
                f"ood_val_corruption must be one of {', '.join(names)}; got {self.ood_val_corruption!r}")
        if self.test_corruptions is not None:
            bad = [c for c in self.test_corruptions if c not in names or c == self.ood_val_corruption]
            require(len(self.test_corruptions) >= 1 and not bad,
                    f"test_corruptions must be a non-empty list of {', '.join(names)} without the "
                    f"OOD validation corruption; bad: {bad}")
