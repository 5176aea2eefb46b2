"""A chapter run's start and finish, its typed result, and the one seed convention.

A chapter's ``run`` is::

    def run(config: Config, progress: bool | None = None) -> Result:
        ctx = start(config, progress)                  # settings, threads, seeding, device
        result = Result(ctx.settings, ...experiments...)
        return finish(ctx, result, metrics_from, judge_claims)

``finish`` computes the metrics, judges the claims and, at preset smoke, leaves every claim
unjudged: a chapter's ``judge_claims(metrics)`` never needs to know the preset.

Seeds: the reported seeds are ``settings.seeds`` (``seed .. seed + n_seeds - 1``). Everything
random inside one seed's experiment (ensemble members, data orders, corruptions, splits) takes
``derive_seed(seed, "stream name", index)``: independent streams, no collisions between
``seed + i`` of one loop and ``seed + 1`` of another.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import torch

from robustbook.book.claims import Claim, unjudged
from robustbook.book.widgets import is_static
from robustbook.runtime import choose_device, seed_everything, set_threads

JUDGED_PRESETS = ("cpu", "paper")
S = TypeVar("S")


def derive_seed(seed: int, stream: str, *index: int) -> int:
    """A 31-bit seed for ``stream`` (a name) and optional indices under the reported ``seed``,
    from NumPy's ``SeedSequence``: distinct streams and indices give unrelated seeds."""
    key = [int(seed), zlib.crc32(stream.encode()), *(int(i) for i in index)]
    return int(np.random.SeedSequence(key).generate_state(1)[0] & 0x7FFFFFFF)


def generator(seed: int, stream: str, *index: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``derive_seed(seed, stream, *index)``."""
    return torch.Generator().manual_seed(derive_seed(seed, stream, *index))


@dataclass
class RunContext(Generic[S]):
    """What ``start`` set up: resolved settings, the device, whether to draw progress bars."""

    settings: S
    device: torch.device
    progress: bool
    started: float = field(default_factory=time.perf_counter)

    @property
    def judged(self) -> bool:
        return self.settings.preset in JUDGED_PRESETS  # type: ignore[attr-defined]


@dataclass(kw_only=True)
class ChapterResult:
    """Base of every chapter's ``Result`` (a dataclass in the chapter's ``result`` module with its
    own typed fields first): the metrics the claims are judged on, the claims, the run time."""

    metrics: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    seconds: float = 0.0


def start(config: Any, progress: bool | None = None) -> RunContext:
    """Check the preset's inputs on disk, resolve ``config`` against its presets, set torch's
    threads, seed everything with the first reported seed, choose the device. ``progress``
    (default: on, except when the book is built)."""
    config.require_data()
    settings = config.resolve()
    set_threads(settings.threads)
    seed_everything(settings.seed)
    device = choose_device(settings.device)
    return RunContext(settings, device, (not is_static()) if progress is None else progress)


R = TypeVar("R", bound=ChapterResult)


def finish(ctx: RunContext, result: R, metrics_from: Callable[[R], dict],
           judge_claims: Callable[[dict], list[Claim]]) -> R:
    """Fill ``result.metrics`` and ``result.claims`` (unjudged at preset smoke) and the time."""
    result.metrics = metrics_from(result)
    claims = judge_claims(result.metrics)
    result.claims = claims if ctx.judged else unjudged(claims)
    result.seconds = round(time.perf_counter() - ctx.started, 2)
    return result
