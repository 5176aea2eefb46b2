"""The chapter contract's results: claims, the "paper vs. this run" table, provenance, atomic JSON.

Results JSON (DESIGN.md §3):
    {chapter, params, metrics, claims: [{id, statement, paper, measured, holds}], env, wall_s}
``holds`` is ``None`` at preset ``smoke``: claims are only judged at ``cpu`` or ``paper``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

JUDGED_PRESETS = ("cpu", "paper")
PACKAGES = ("robustbook", "torch", "numpy", "scikit-learn", "papermill", "transformers")


@dataclass(frozen=True)
class Claim:
    """One row of the "paper vs. this run" table.

    ``paper``: the paper's number and setting; ``measured``: this run's number (mean ± std over
    seeds where it matters); ``holds``: True / False, or None when not judged (preset smoke)."""

    id: str
    statement: str
    paper: str
    measured: str
    holds: bool | None


def judge(preset: str, condition: bool) -> bool | None:
    """A claim's verdict: ``condition`` at judged presets, ``None`` (not judged) at smoke."""
    return bool(condition) if preset in JUDGED_PRESETS else None


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

    ``run = ChapterRun("sam-label-noise", config)`` at the top of the notebook;
    ``run.finish(metrics, claims, results_path)`` at the end returns the record and, when
    ``results_path`` is set, writes it atomically (nothing is written if the run fails before).
    """

    def __init__(self, chapter: str, params: Any) -> None:
        self.chapter = chapter
        self.params = dataclasses.asdict(params) if dataclasses.is_dataclass(params) else dict(params)
        self.started = time.perf_counter()

    def finish(self, metrics: dict[str, Any], claims: list[Claim],
               results_path: str | Path | None = None) -> dict[str, Any]:
        record = {
            "chapter": self.chapter,
            "params": self.params,
            "metrics": metrics,
            "claims": [dataclasses.asdict(c) for c in claims],
            "env": environment(),
            "wall_s": round(time.perf_counter() - self.started, 2),
        }
        if results_path:
            write_json_atomic(results_path, record)
        return record


def claims_table(claims: list[Claim]) -> pd.DataFrame:
    """The "paper vs. this run" table as a DataFrame (one row per claim)."""
    verdict = {True: "✓ holds", False: "✗ does not hold", None: "not judged (smoke preset)"}
    return pd.DataFrame(
        [{"claim": c.statement, "paper": c.paper, "this run": c.measured, "verdict": verdict[c.holds]}
         for c in claims],
        index=pd.Index([c.id for c in claims]),
    )
