"""Chapter 09's parameters: ``Config`` (what a user sets) and ``Settings`` (resolved by preset).

Preset ``cpu``: scikit-learn's digits (enlarged to 32 x 32 for the corruptions, then shrunk to
``image_size``), a zoo of small BatchNorm MLPs and CNNs trained batched per architecture and
snapshotted at several epochs, OOD = corruptions from ``imagecorruptions`` at two severities.
Hyperparameters and the claims' thresholds were fixed on tuning seeds 100-104, never on the
reported seeds. Preset ``paper``: CIFAR-10 test (ID) and CIFAR-10-C from ``data_dir``, trained
CIFAR-10 classifiers of any torchvision architecture from ``data_dir/tta-lines-models/``.
"""

from __future__ import annotations

from dataclasses import dataclass

from robustbook.book.config import ChapterConfig, CommonSettings, require, require_positive_ints
from robustbook.data.cifar_shifts import CIFAR10_C_CORRUPTIONS, check_corruption_list, check_severity_list

TUNING_SEEDS = (100, 101, 102, 103, 104)  # thresholds and the focus shift were chosen on these
CPU_ZOO = ("mlp-16-1", "mlp-32-1", "mlp-64-1", "mlp-128-1", "mlp-32-2", "mlp-64-2", "cnn-4-1",
           "cnn-4-2")
CPU_CORRUPTIONS = ("gaussian_noise", "impulse_noise", "contrast")
METHODS = ("bn_adapt", "tent", "eta")


@dataclass(frozen=True)
class Settings(CommonSettings):
    """Every knob resolved to a concrete value (what ``run`` uses)."""

    zoo: tuple[str, ...]
    members: int
    snapshots: tuple[int, ...]
    train_lr: float
    batch_size: int
    image_size: int
    corruptions: tuple[str, ...]
    severities: tuple[int, ...]
    methods: tuple[str, ...]
    tta_batch: int
    tent_lr: float
    tent_passes: int
    select_lrs: tuple[float, ...]
    focus_shift: str
    weak_shift: str
    models: tuple[str, ...]
    n_test: int | None


_CPU = dict(n_seeds=5, zoo=CPU_ZOO, members=2, snapshots=(1, 3, 8), train_lr=0.01, batch_size=64,
            image_size=16, corruptions=CPU_CORRUPTIONS, severities=(3, 5), methods=METHODS,
            tta_batch=200, tent_lr=0.005, tent_passes=3, select_lrs=(0.001, 0.005, 0.05),
            focus_shift="gaussian_noise-5", weak_shift="contrast-5", models=(),
            n_test=None)
PRESETS: dict[str, dict] = {
    "smoke": {**_CPU, "n_seeds": 1, "weak_shift": "contrast-5", "zoo": ("mlp-16-1", "cnn-4-1"), "members": 1, "snapshots": (1, 2),
              "corruptions": ("gaussian_noise", "contrast"), "severities": (5,), "tent_passes": 1,
              "select_lrs": (0.001, 0.01)},
    "cpu": _CPU,
    "paper": {**_CPU, "n_seeds": 1, "image_size": 32, "corruptions": CIFAR10_C_CORRUPTIONS,
              "severities": (1, 2, 3, 4, 5), "tent_lr": 0.001, "tent_passes": 1,
              "select_lrs": (0.0001, 0.001, 0.01), "focus_shift": "gaussian_noise-5", "weak_shift": "contrast-5",
              "models": ("resnet18", "resnet34", "vgg11_bn", "mobilenet_v2", "densenet121")},
}


def parse_arch(spec: str) -> tuple[str, int, int]:
    """"mlp-64-2" -> ("mlp", 64, 2): kind, width, depth."""
    parts = str(spec).split("-")
    ok = len(parts) == 3 and parts[0] in ("mlp", "cnn") and all(p.isdigit() and int(p) >= 1 for p in parts[1:])
    require(ok, f"zoo entries must look like 'mlp-<width>-<depth>' or 'cnn-<width>-<depth>' with "
                f"positive integers, got {spec!r}")
    return parts[0], int(parts[1]), int(parts[2])


@dataclass(frozen=True)
class Config(ChapterConfig):
    SETTINGS = Settings
    PRESETS = PRESETS

    data_dir: str | None = None          # paper preset: folder holding cifar-10-batches-py/, CIFAR-10-C/, tta-lines-models/
    n_seeds: int | None = None           # reported seeds (None: the preset's, cpu 5)
    zoo: tuple | None = None             # architectures 'mlp-<width>-<depth>' or 'cnn-<width>-<depth>' (cpu: 8)
    members: int | None = None           # models per architecture trained together (cpu 2)
    snapshots: tuple | None = None       # epochs at which every model is snapshotted (cpu 1, 3, 8)
    train_lr: float | None = None        # Adam learning rate of zoo training (0.01)
    batch_size: int | None = None        # training mini-batch size (64)
    image_size: int | None = None        # side of the images the models see, 8 to 32 (cpu 16)
    corruptions: tuple | None = None     # corruption names; the first is the focus corruption (cpu 3)
    severities: tuple | None = None      # corruption severities in 1..5 (cpu 3, 5)
    methods: tuple | None = None         # TTA methods among bn_adapt, tent, eta (cpu all three)
    tta_batch: int | None = None         # test batch size for BN statistics and TTA steps (200)
    tent_lr: float | None = None         # Adam learning rate of TENT and ETA (cpu 0.005)
    tent_passes: int | None = None       # passes over the test set, one step per batch (cpu 5)
    select_lrs: tuple | None = None      # TENT learning rates to choose from without OOD labels
    focus_shift: str | None = None       # the shift the headline claims are judged on (cpu gaussian_noise-5)
    weak_shift: str | None = None        # the shift with the weakest plain lines on the tuning seeds (cpu contrast-5)
    models: tuple | None = None          # paper: torchvision architecture names, files tta-lines-models/<name>.pt
    n_test: int | None = None            # paper: keep only the first n test images (None: all 10,000)

    def require_data(self) -> None:
        """Paper preset: CIFAR-10, CIFAR-10-C and the trained models must be local."""
        s = self.resolve()
        if s.preset == "paper":
            from robustbook.tta.paper import check_paper_inputs

            check_paper_inputs(s.data_dir, s.corruptions, s.models)

    def check(self) -> None:
        require_positive_ints(self, "members", "batch_size", "tta_batch", "tent_passes", "n_test")
        for spec in self.zoo or ():
            parse_arch(spec)
        require(self.zoo is None or len(self.zoo) * (self.members or 1) * len(self.snapshots or (1,)) >= 3,
                "the zoo needs at least 3 models (zoo x members x snapshots) for ALine-D")
        require(self.snapshots is None or (len(self.snapshots) >= 1 and all(
            isinstance(e, int) and e >= 1 for e in self.snapshots)),
            f"snapshots must be a non-empty list of epochs >= 1, got {self.snapshots}")
        for name in ("train_lr", "tent_lr"):
            value = getattr(self, name)
            require(value is None or value > 0, f"{name} must be > 0, got {value}")
        require(self.select_lrs is None or (len(self.select_lrs) >= 2 and all(v > 0 for v in self.select_lrs)),
                f"select_lrs must hold at least two learning rates > 0, got {self.select_lrs}")
        require(self.image_size is None or 8 <= self.image_size <= 32,
                f"image_size must be in [8, 32], got {self.image_size}")
        if self.corruptions is not None:
            check_corruption_list(self.corruptions)
        if self.severities is not None:
            check_severity_list(self.severities)
        if self.methods is not None:
            unknown = [m for m in self.methods if m not in METHODS]
            require(len(self.methods) >= 1 and not unknown,
                    f"methods must be a non-empty list of {', '.join(METHODS)}; unknown: {unknown}")

    def resolve(self) -> Settings:
        """Every ``None`` knob from the preset; the focus shift must be one of the run's shifts."""
        s = super().resolve()
        shifts = [f"{c}-{v}" for c in s.corruptions for v in s.severities]
        for name in ("focus_shift", "weak_shift"):
            require(getattr(s, name) in shifts, f"{name} must be one of the run's shifts {shifts}, "
                                                f"got {getattr(s, name)!r}")
        return s
