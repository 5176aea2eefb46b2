"""Chapter 02's parameters: ``Config`` (what a user sets) and ``Settings`` (resolved by preset).

Knobs left at ``None`` take the preset's value. ``paper`` follows Goyal et al. (2024), Sec. 5 /
App.: DataComp medium, quality buckets of 10% of the pool, CLIP ViT-B/32 trained with open_clip
(batch 4096, lr 5e-4, 500 warm-up steps), budgets of 32M-128M samples seen, ImageNet zero-shot.
``cpu`` is the CPU setting described in the chapter; its knobs and every claim threshold were
fixed on tuning seeds 100-104 (the pool sweep also on 105-109) before the reported seeds 0-4 ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from robustbook.book.config import (
    ChapterConfig,
    CommonSettings,
    require,
    require_non_negative,
    require_positive_ints,
)


@dataclass(frozen=True)
class Settings(CommonSettings):
    """Every knob resolved to a concrete value (what ``run`` uses)."""

    budgets: tuple[int, ...]
    bucket_size: int
    label_noise: tuple[float, ...]
    dim: int
    lr: float
    weight_decay: float
    batch_size: int
    clip_budgets: tuple[int, ...]
    clip_pools: tuple[int, ...]
    clip_bucket_size: int
    caption_noise: tuple[float, ...]
    clip_model: str
    clip_lr: float
    clip_batch_size: int
    scale_tau: bool
    clip_data: str           # "digits" (cpu, smoke) or "webdataset" (paper: shards in data_dir)
    clip_warmup: int         # warm-up steps of the CLIP schedule (cpu 10, paper 500)


_CPU = dict(n_seeds=5, budgets=(1000, 2000, 4000, 8000, 16000, 32000), bucket_size=1000,
            label_noise=(0.0, 0.1, 0.2, 0.3), dim=32, lr=0.1, weight_decay=0.001, batch_size=10,
            clip_budgets=(600, 9600), clip_pools=(1, 2, 4), clip_bucket_size=100,
            caption_noise=(0.0, 0.2, 0.4, 0.6), clip_model="robustbook-tiny-clip", clip_lr=3e-3,
            clip_batch_size=16, clip_data="digits", clip_warmup=10)
PRESETS: dict[str, dict] = {
    "smoke": {**_CPU, "n_seeds": 2, "budgets": (150, 300, 600), "bucket_size": 60,
              "clip_budgets": (64, 128, 256), "clip_pools": (1, 2), "clip_bucket_size": 40},
    "cpu": _CPU,
    "paper": {**_CPU, "n_seeds": 1, "clip_budgets": (32_000_000, 64_000_000, 128_000_000),
              "clip_pools": (1, 2, 3, 4), "clip_bucket_size": 0, "caption_noise": (),
              "clip_model": "ViT-B-32", "clip_lr": 5e-4, "clip_batch_size": 4096,
              "clip_data": "webdataset", "clip_warmup": 500},
}


@dataclass(frozen=True)
class Config(ChapterConfig):
    SETTINGS: ClassVar[type] = Settings
    PRESETS: ClassVar[dict[str, dict]] = PRESETS

    data_dir: str | None = None          # paper preset: folder with train/ and eval/ webdataset shards
    n_seeds: int | None = None           # reported seeds, for every part (None: the preset's, cpu 5)
    budgets: tuple | None = None         # samples seen per training run (cpu 1000 .. 32000)
    bucket_size: int | None = None       # samples per quality bucket (cpu 1000)
    label_noise: tuple | None = None     # label-noise rate per bucket, best first (cpu 0, .1, .2, .3)
    dim: int | None = None               # input dimension of the Gaussian mixture (cpu 32)
    lr: float | None = None              # SGD learning rate with a cosine schedule (cpu 0.1)
    weight_decay: float | None = None    # SGD weight decay (cpu 0.001)
    batch_size: int | None = None        # SGD mini-batch size (cpu 10)
    clip_budgets: tuple | None = None    # CLIP samples seen (cpu 600, 9600: 6 and 96 passes over top-1)
    clip_pools: tuple | None = None      # CLIP pools trained, the top-m buckets for each m (cpu 1, 2, 4)
    clip_bucket_size: int | None = None  # image-caption pairs per bucket (cpu 100)
    caption_noise: tuple | None = None   # wrong-caption rate per bucket, best first (cpu 0, .2, .4, .6)
    clip_model: str | None = None        # open_clip model name (cpu robustbook-tiny-clip, paper ViT-B-32)
    clip_lr: float | None = None         # AdamW learning rate (cpu 3e-3, paper 5e-4)
    clip_batch_size: int | None = None   # contrastive batch size (cpu 16, paper 4096)
    scale_tau: bool = True               # mixing multiplies each tau by m, as the official code does

    def require_data(self) -> None:
        """Preset paper reads webdataset shards from ``data_dir``: FileNotFoundError naming what is
        missing (``robustbook run`` calls this before a kernel starts)."""
        if self.resolve().clip_data == "webdataset":
            from robustbook.chapters.data_filtering_scaling.paper_clip import check_paper_data

            check_paper_data(self.data_dir)

    def check(self) -> None:
        require_positive_ints(self, "bucket_size", "dim", "batch_size", "clip_bucket_size",
                              "clip_batch_size")
        for name in ("lr", "clip_lr"):
            value = getattr(self, name)
            require(value is None or value > 0, f"{name} must be > 0, got {value}")
        require_non_negative(self, "weight_decay")
        require(isinstance(self.scale_tau, bool), f"scale_tau must be True or False, got {self.scale_tau!r}")
        for name in ("budgets", "clip_budgets"):
            value = getattr(self, name)
            require(value is None or (len(value) >= 2 and all(isinstance(v, int) and v >= 1 for v in value)
                                      and list(value) == sorted(set(value))),
                    f"{name} must be at least 2 increasing positive integers (samples seen), got {value}")
        pools = self.clip_pools
        require(pools is None or (len(pools) >= 2 and list(pools) == sorted(set(pools)) and pools[0] == 1),
                f"clip_pools must start at 1 and increase (top-m pools), got {pools}")
        for name in ("label_noise", "caption_noise"):
            value = getattr(self, name)
            require(value is None or (len(value) >= 2 and all(0 <= r < 1 for r in value)
                                      and list(value) == sorted(value)),
                    f"{name} must list >= 2 rates in [0, 1), best bucket first (non-decreasing), got {value}")
        if self.clip_pools is not None and self.caption_noise is not None:
            require(self.clip_pools[-1] <= len(self.caption_noise),
                    f"clip_pools go up to {self.clip_pools[-1]} buckets but caption_noise has "
                    f"{len(self.caption_noise)}")
