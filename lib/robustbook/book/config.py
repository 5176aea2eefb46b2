"""What every chapter's ``Config`` shares: the preset names, the common checks, and filling the
knobs left at ``None`` from the preset. Chapters keep their own fields and range checks."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from robustbook.runtime import VALID_DEVICES

PRESET_NAMES = ("smoke", "cpu", "paper")


def check(ok: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``ok``: bad parameters fail before any work."""
    if not ok:
        raise ValueError(message)


def check_common(config: Any) -> None:
    """The contract's required fields: ``preset``, ``device`` and (where present) ``threads``."""
    check(config.preset in PRESET_NAMES, f"preset must be one of {PRESET_NAMES}, got {config.preset!r}")
    check(config.device.split(":")[0] in VALID_DEVICES,
          f"device must be one of {VALID_DEVICES} (optionally 'cuda:N'), got {config.device!r}")
    threads = getattr(config, "threads", 0)
    check(isinstance(threads, int) and threads >= 0, f"threads must be >= 0 (an integer), got {threads!r}")


def fill_from_preset(config: Any, presets: dict[str, dict], overridable: tuple[str, ...]) -> dict[str, Any]:
    """Every field of ``config`` except ``results_path``, with the ``overridable`` knobs that are
    ``None`` taken from ``presets[config.preset]``."""
    preset = presets[config.preset]
    values = {f.name: getattr(config, f.name) for f in fields(config) if f.name != "results_path"}
    for name in overridable:
        if values[name] is None:
            values[name] = preset[name]
    return values


@dataclass(frozen=True)
class CommonSettings:
    """The resolved fields every chapter has; a chapter's ``Settings`` subclasses this and adds
    its own knobs. ``seeds`` are ``seed, seed + 1, ..., seed + n_seeds - 1``."""

    preset: str
    seed: int
    device: str
    data_dir: str | None
    threads: int
    n_seeds: int

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.n_seeds))
