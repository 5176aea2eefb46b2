"""Reading pickles from a user's ``data_dir`` without letting them run code.

``pickle.load`` calls whatever a file names, so a tampered dataset file could execute code. The
datasets the paper presets read as pickles (CIFAR-10's python batches) only need a dict of bytes,
lists, ints and NumPy arrays: ``load`` admits exactly the NumPy globals that rebuild an array and
refuses every other global, with a message naming it.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

# (module, name) pairs that rebuild NumPy arrays, in NumPy 1.x and 2.x spellings.
NUMPY_ARRAY_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes; runs no code
})


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, allowed: frozenset[tuple[str, str]], source: str, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.allowed, self.source = allowed, source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"{self.source}: refusing to load {module}.{name} — this file should hold only data "
            f"(lists, bytes, NumPy arrays); it may be corrupted or tampered with")


def load(path: str | Path, allowed: frozenset[tuple[str, str]] = NUMPY_ARRAY_GLOBALS,
         encoding: str = "bytes") -> Any:
    """Unpickle ``path`` admitting only the globals in ``allowed`` (default: NumPy arrays).
    ``encoding="bytes"`` reads Python 2 pickles (CIFAR-10's) with bytes keys, as they were written."""
    with open(path, "rb") as f:
        return _RestrictedUnpickler(f, allowed, str(path), encoding=encoding).load()
