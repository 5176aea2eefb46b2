"""Chapter 02's parameters: ``Config`` (what a user sets) and ``Settings`` (resolved by preset).

Knobs left at ``None`` take the preset's value. ``paper`` follows Goyal et al. (2024), Sec. 5 /
App.: DataComp medium, quality buckets of 10% of the pool, CLIP ViT-B/32 trained with open_clip
(batch 4096, lr 5e-4, 500 warm-up steps), budgets of 32M-128M samples seen, ImageNet zero-shot.
``cpu`` is the CPU setting described in the chapter; its knobs were chosen on development seeds
100-109 (parts 2-3) and 100-103 (part 4), never on the reported seeds 0-4.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from robustbook.book.config import CommonSettings, check, check_common, fill_from_preset

TUPLE_KNOBS = ("budgets", "label_noise", "clip_budgets", "clip_pools", "caption_noise")
OVERRIDABLE = ("n_seeds", "budgets", "bucket_size", "label_noise", "dim", "lr", "weight_decay", "batch_size",
               "clip_seeds", "clip_budgets", "clip_pools", "clip_bucket_size", "caption_noise",
               "clip_model", "clip_lr", "clip_batch_size")


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
    clip_seeds: int
    clip_budgets: tuple[int, ...]
    clip_pools: tuple[int, ...]
    clip_bucket_size: int
    caption_noise: tuple[float, ...]
    clip_model: str
    clip_lr: float
    clip_batch_size: int
    scale_tau: bool
    clip_data: str           # "digits" (cpu, smoke) or "webdataset" (paper: shards in data_dir)
    clip_warmup: int

    @property
    def clip_seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.clip_seeds))


_CPU = dict(n_seeds=5, budgets=(500, 1000, 2000, 4000, 8000, 16000, 32000), bucket_size=1000,
            label_noise=(0.0, 0.1, 0.2, 0.3), dim=16, lr=0.1, weight_decay=0.001, batch_size=10,
            clip_seeds=2, clip_budgets=(1200, 3600, 9600), clip_pools=(1, 2, 4), clip_bucket_size=100,
            caption_noise=(0.0, 0.2, 0.4, 0.6), clip_model="robustbook-tiny-clip", clip_lr=3e-3,
            clip_batch_size=16, clip_data="digits", clip_warmup=10)
PRESETS: dict[str, dict] = {
    "smoke": {**_CPU, "n_seeds": 2, "budgets": (150, 300, 600), "bucket_size": 60, "clip_seeds": 1,
              "clip_budgets": (64, 128, 256), "clip_pools": (1, 2), "clip_bucket_size": 40},
    "cpu": _CPU,
    "paper": {**_CPU, "clip_seeds": 1, "clip_budgets": (32_000_000, 64_000_000, 128_000_000),
              "clip_pools": (1, 2, 3, 4), "clip_bucket_size": 0, "caption_noise": (),
              "clip_model": "ViT-B-32", "clip_lr": 5e-4, "clip_batch_size": 4096,
              "clip_data": "webdataset", "clip_warmup": 500},
}


@dataclass(frozen=True)
class Config:
    preset: str = "cpu"                  # "smoke" (seconds, plumbing only) | "cpu" | "paper"
    seed: int = 0                        # first seed; seeds seed .. seed + n_seeds - 1
    device: str = "auto"                 # "auto" (CUDA if present) | "cpu" | "cuda" | "cuda:N"
    data_dir: str | None = None          # paper preset: folder with train/ and eval/ webdataset shards
    results_path: str | None = None      # where to write the results JSON (None: nowhere)
    threads: int = 1                     # torch CPU threads (0 means the torch default)
    n_seeds: int | None = None           # seeds of the synthetic pool experiments (cpu: 5)
    budgets: tuple | None = None         # samples seen per training run (cpu: 500 .. 32000)
    bucket_size: int | None = None       # samples per quality bucket (cpu: 1000)
    label_noise: tuple | None = None     # label-noise rate per bucket, best first (cpu: 0, .1, .2, .3)
    dim: int | None = None               # input dimension of the Gaussian mixture (cpu: 16)
    lr: float | None = None              # SGD learning rate, cosine schedule (cpu: 0.1)
    weight_decay: float | None = None    # SGD weight decay (cpu: 0.001)
    batch_size: int | None = None        # SGD mini-batch size (cpu: 10)
    clip_seeds: int | None = None        # seeds of the CLIP experiment (cpu: 2)
    clip_budgets: tuple | None = None    # CLIP samples seen (cpu: 1200, 3600, 9600)
    clip_pools: tuple | None = None      # CLIP pools trained: top-m buckets for each m (cpu: 1, 2, 4)
    clip_bucket_size: int | None = None  # image-caption pairs per bucket (cpu: 100)
    caption_noise: tuple | None = None   # wrong-caption rate per bucket (cpu: 0, .2, .4, .6)
    clip_model: str | None = None        # open_clip model name (cpu: robustbook-tiny-clip)
    clip_lr: float | None = None         # AdamW learning rate (cpu: 3e-3; paper: 5e-4)
    clip_batch_size: int | None = None   # contrastive batch size (cpu: 16; paper: 4096)
    scale_tau: bool = True               # mixing: multiply each tau by m, as the official code does

    def __post_init__(self) -> None:
        check_common(self)
        for name in TUPLE_KNOBS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        self._check_counts()
        self._check_rates()
        for name in ("lr", "clip_lr"):
            value = getattr(self, name)
            check(value is None or value > 0, f"{name} must be > 0, got {value}")
        check(self.weight_decay is None or self.weight_decay >= 0,
               f"weight_decay must be >= 0, got {self.weight_decay}")
        check(isinstance(self.scale_tau, bool), f"scale_tau must be True or False, got {self.scale_tau!r}")

    def _check_counts(self) -> None:
        for name in ("n_seeds", "bucket_size", "dim", "batch_size", "clip_seeds", "clip_bucket_size",
                     "clip_batch_size"):
            value = getattr(self, name)
            check(value is None or (isinstance(value, int) and value >= 1),
                   f"{name} must be a positive integer, got {value!r}")
        for name in ("budgets", "clip_budgets"):
            value = getattr(self, name)
            check(value is None or (len(value) >= 2 and all(isinstance(v, int) and v >= 1 for v in value)
                                     and list(value) == sorted(set(value))),
                   f"{name} must be at least 2 increasing positive integers (samples seen), got {value}")
        pools = self.clip_pools
        check(pools is None or (len(pools) >= 2 and list(pools) == sorted(set(pools)) and pools[0] == 1),
               f"clip_pools must start at 1 and increase (top-m pools), got {pools}")

    def _check_rates(self) -> None:
        for name in ("label_noise", "caption_noise"):
            value = getattr(self, name)
            check(value is None or (len(value) >= 2 and all(0 <= r < 1 for r in value)
                                     and list(value) == sorted(value)),
                   f"{name} must list >= 2 rates in [0, 1), best bucket first (non-decreasing), got {value}")
        if self.clip_pools is not None and self.caption_noise is not None:
            check(self.clip_pools[-1] <= len(self.caption_noise),
                   f"clip_pools go up to {self.clip_pools[-1]} buckets but caption_noise has "
                   f"{len(self.caption_noise)}")

    def resolve(self) -> Settings:
        """Fill every ``None`` knob from the preset."""
        preset = PRESETS[self.preset]
        values = fill_from_preset(self, PRESETS, OVERRIDABLE)
        return Settings(clip_data=preset["clip_data"], clip_warmup=preset["clip_warmup"], **values)

    def with_(self, **changes) -> Config:
        return replace(self, **changes)

