"""Door checks shared by the capability modules: each raises ``ValueError`` naming the argument,
what it must be and the value given, before any work (issue 19, "inputs checked at every door").

Cheap by design: scalars and shapes only, never a pass over a big tensor.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any


def require(ok: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``ok``."""
    if not ok:
        raise ValueError(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name: str, value: Any, minimum: int = 1) -> None:
    """``value`` is an integer >= ``minimum`` (bools refused)."""
    require(_is_int(value) and value >= minimum,
            f"{name} must be an integer >= {minimum}, got {value!r}")


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> None:
    """``value`` is a finite real number inside [low, high] (``low_open``/``high_open`` make that
    end exclusive); NaN and inf are refused."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")


def check_choice(name: str, value: Any, choices: Collection[Any]) -> None:
    """``value`` is one of ``choices`` (listed in the message)."""
    require(value in choices, f"{name} must be one of {sorted(choices)}, got {value!r}")


def check_nonempty(name: str, value: Any) -> None:
    """``value`` (a sequence or tensor) has at least one entry."""
    require(len(value) > 0, f"{name} must not be empty, got length 0")


def check_same_length(**named: Any) -> None:
    """All named sequences/tensors have the same length (first dimension)."""
    lengths = {name: len(v) for name, v in named.items()}
    require(len(set(lengths.values())) <= 1,
            "need " + ", ".join(lengths) + " of equal length, got "
            + ", ".join(f"{k}={n}" for k, n in lengths.items()))
