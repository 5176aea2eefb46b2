"""The chapter contract's results record: provenance and atomic JSON.

Results JSON (DESIGN.md §3):
    {chapter, params, metrics, claims: [{id, kind, statement, paper, measured, holds, expected,
     expected_why, seeds}], counts, env, wall_s}
``holds`` is ``None`` at preset ``smoke``: claims are only judged at ``cpu`` or ``paper``
(``robustbook.book.claims``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from robustbook.book.claims import KINDS, Claim, counts

PACKAGES = ("robustbook", "torch", "numpy", "scikit-learn", "papermill", "transformers")


def mean_std(values, scale: float = 1.0, digits: int = 1) -> str:
    """'m ± s (n=k)' of ``values`` times ``scale`` (population std, as over seeds)."""
    s = pd.Series([float(v) * scale for v in values])
    return f"{s.mean():.{digits}f} ± {s.std(ddof=0):.{digits}f} (n={len(s)})"


def git_revision(cwd: str | Path | None = None) -> str | None:
    """``<sha>`` or ``<sha>+dirty`` of the checkout holding ``cwd``; None outside git."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}+dirty" if dirty else sha


def environment() -> dict[str, Any]:
    """Provenance: Python, platform, package versions, git revision, accelerator, time."""
    import torch

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "git": git_revision(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write JSON to a temporary file in the same folder, then rename it into place: a reader
    never sees a half-written file, and an interrupted write leaves the old file untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False, default=_jsonable)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


class ChapterRun:
    """Times one chapter run and writes its results record.

    ``book_run = ChapterRun(chapter.SLUG, config)`` at the top of the notebook;
    ``book_run.finish(result, results_path)`` at the end returns the record and, when
    ``results_path`` is set, writes it atomically (nothing is written if the run fails before).
    """

    def __init__(self, chapter: str, params: Any) -> None:
        self.chapter = chapter
        self.params = dataclasses.asdict(params) if dataclasses.is_dataclass(params) else dict(params)
        self.started = time.perf_counter()

    def finish(self, result: Any, results_path: str | Path | None = None) -> dict[str, Any]:
        """The record of ``result`` (a ``ChapterResult``: metrics and claims); written atomically
        to ``results_path`` when it is set."""
        claims: list[Claim] = sorted(result.claims, key=lambda c: KINDS.index(c.kind))  # table order
        record = {
            "chapter": self.chapter,
            "params": self.params,
            "metrics": result.metrics,
            "claims": [dataclasses.asdict(c) for c in claims],
            "counts": counts(claims),
            "env": environment(),
            "wall_s": round(time.perf_counter() - self.started, 2),
        }
        if results_path:
            write_json_atomic(results_path, record)
        return record
