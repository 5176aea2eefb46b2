"""Runtime helpers: device choice, seeding + determinism, thread count."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

VALID_DEVICES = ("auto", "cpu", "cuda", "mps")


def choose_device(device: str = "auto") -> torch.device:
    """Resolve ``"auto"`` to CUDA when present, else the CPU; check explicit names.

    ``"cuda:1"`` style names are accepted. Asking for CUDA on a machine without it is an error,
    not a silent fallback: a run that claims to be a GPU run must be one.
    """
    base = device.split(":")[0]
    if base not in VALID_DEVICES:
        raise ValueError(f"device must be one of {VALID_DEVICES} (optionally 'cuda:N'), got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} was requested but CUDA is not available on this machine")
    return torch.device(device)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch, switch torch to deterministic kernels.

    Returns a CPU ``torch.Generator`` seeded with ``seed`` for code that wants its own stream.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


def set_threads(threads: int) -> int:
    """Set torch's intra-op thread count; ``0`` keeps torch's default. Returns the count in use.

    On a small shared machine one thread is often fastest for tiny models (see DESIGN.md §8).
    """
    if threads < 0:
        raise ValueError(f"threads must be >= 0 (0 = torch's default), got {threads}")
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
