"""Chapter 01's parameters: ``Config`` (what a user sets) and ``Settings`` (resolved by preset).

Knobs left at ``None`` take the preset's value. Preset values come from the paper
(Baek et al., 2024, Sec. 5 / App.: CIFAR-10, ResNet-18, batch 128, lr 0.01, wd 5e-4, 200 epochs,
rho = 0.01 with 1-SAM, 30% noise) for ``paper``, and from the CPU setting described in the
chapter for ``cpu`` (hyperparameters chosen on tuning seeds 100-104, never on reported seeds).
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
from robustbook.data.cifar import check_cifar10

SAM_MODES = ("batch", "1-sam")


@dataclass(frozen=True)
class Settings(CommonSettings):
    """Every knob resolved to a concrete value (what ``run`` uses)."""

    dataset: str            # "digits" (cpu, smoke) or "cifar10" (paper)
    epochs: int
    n_train: int | None     # None = the whole training split
    label_noise_rate: float
    rho: float
    sam_mode: str
    lr: float
    momentum: float
    weight_decay: float
    batch_size: int
    weight_penalty: float
    feature_penalty: float
    tuned_weight_decay: float
    one_sam_n_train: int
    one_sam_epochs: int
    one_sam_rho: float
    linear_noise_rate: float
    linear_rhos: tuple[float, ...]
    linear_steps: int


_COMMON = dict(dataset="digits", n_train=None, label_noise_rate=0.6, rho=0.5, sam_mode="batch",
               lr=0.05, momentum=0.9, weight_decay=5e-4, batch_size=32, weight_penalty=0.1,
               feature_penalty=0.01, tuned_weight_decay=2e-2, one_sam_n_train=800, one_sam_epochs=12,
               one_sam_rho=0.1,
               linear_steps=200)
PRESETS: dict[str, dict] = {
    "smoke": {**_COMMON, "n_seeds": 2, "epochs": 3, "n_train": 256, "one_sam_n_train": 64, "one_sam_epochs": 2,
              "linear_steps": 10},
    "cpu": {**_COMMON, "n_seeds": 5, "epochs": 60},
    "paper": {**_COMMON, "dataset": "cifar10", "n_seeds": 1, "epochs": 200, "label_noise_rate": 0.3,
              "rho": 0.01, "sam_mode": "1-sam", "lr": 0.01, "batch_size": 128},
}


@dataclass(frozen=True)
class Config(ChapterConfig):
    SETTINGS = Settings
    PRESETS = PRESETS

    data_dir: str | None = None              # paper preset: folder holding cifar-10-batches-py/
    n_seeds: int | None = None               # reported seeds averaged over (None: the preset's, cpu 5)
    epochs: int | None = None                # passes over the training set (None: cpu 60, paper 200)
    n_train: int | None = None               # keep only this many training examples (None: all)
    label_noise_rate: float | None = None    # fraction of training labels flipped to a wrong class (cpu 0.6)
    rho: float | None = None                 # SAM radius rho (None: cpu 0.5 mini-batch, paper 0.01 1-SAM)
    sam_mode: str | None = None              # "batch" (one eps per batch) | "1-sam" (one eps per example)
    lr: float | None = None                  # SGD learning rate (cpu 0.05, paper 0.01)
    momentum: float | None = None            # SGD momentum (0.9)
    weight_decay: float | None = None        # L2 weight decay, equal for every compared method (5e-4)
    batch_size: int | None = None            # mini-batch size (cpu 32, paper 128)
    weight_penalty: float | None = None      # SGD + penalties: coefficient of 1/2 ||V||^2 (0.1)
    feature_penalty: float | None = None     # SGD + penalties: coefficient of mean 1/2 ||h||^2 (0.01)
    tuned_weight_decay: float | None = None  # control: SGD with this weight decay (cpu 0.02, tuned)
    one_sam_n_train: int | None = None       # 1-SAM vs mini-batch SAM: training subset size (cpu 800)
    one_sam_epochs: int | None = None        # 1-SAM vs mini-batch SAM: epochs on the subset (cpu 12)
    one_sam_rho: float | None = None         # 1-SAM vs mini-batch SAM: 1-SAM radius (cpu 0.1)
    linear_noise_rate: float = 0.2           # label noise of the binary linear toy, in [0, 0.5)
    linear_rhos: tuple = (0.0, 0.5, 1.0, 2.0, 5.0)  # rho grid of the linear toy (starts at 0)

    def require_data(self) -> None:
        if self.resolve().dataset == "cifar10":
            check_cifar10(self.data_dir)

    def check(self) -> None:
        require(self.label_noise_rate is None or 0 <= self.label_noise_rate < 1,
                f"label_noise_rate must be in [0, 1), got {self.label_noise_rate}")
        require(0 <= self.linear_noise_rate < 0.5,
                f"linear_noise_rate must be in [0, 0.5) (binary labels), got {self.linear_noise_rate}")
        require(self.sam_mode in (None, *SAM_MODES),
                f"sam_mode must be one of {SAM_MODES}, got {self.sam_mode!r}")
        require_non_negative(self, "rho", "lr", "momentum", "weight_decay", "weight_penalty",
                             "feature_penalty", "tuned_weight_decay", "one_sam_rho")
        require_positive_ints(self, "epochs", "batch_size", "n_train", "one_sam_n_train",
                              "one_sam_epochs")
        rhos = self.linear_rhos
        require(len(rhos) >= 2 and rhos[0] == 0 and list(rhos) == sorted(rhos),
                f"linear_rhos must start at 0 and increase, got {rhos}")
