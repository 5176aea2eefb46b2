"""Execute chapters with papermill: one process per notebook, cached by a content hash, with
atomic outputs and a clear report when a cell fails.

A run writes ``<stem>.ipynb`` (the executed notebook) and ``<stem>.results.json`` into ``out_dir``.
The notebook is executed into a staging file and moved into place only when every cell ran, and
the old outputs are removed first: an interrupted or failed run never leaves a result that looks
complete (the partial notebook is kept as ``<stem>.failed.ipynb`` for inspection).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robustbook.book.config import parameters_cell
from robustbook.book.results import write_json_atomic
from robustbook.book.widgets import STATIC_ENV
from robustbook.chapters import ChapterInfo, get_chapter

LIB_DIR = Path(__file__).resolve().parent
# Top-level modules that run chapters but compute nothing in them: not part of a run's key.
APPLICATION_MODULES = frozenset({"cli.py", "runner.py", "sweep.py", "dashboard.py", "notebook_hygiene.py"})
# A cell that runs longer than this fails instead of hanging forever (a lost kernel message
# under heavy load has been seen to leave papermill waiting on an idle kernel).
CELL_TIMEOUT_S = int(os.environ.get("ROBUSTBOOK_CELL_TIMEOUT", "1800"))
KERNEL_START_ERRORS = ("Kernel died before replying", "Kernel didn't respond", "timed out waiting")


@dataclass(frozen=True)
class RunOutcome:
    chapter: str
    ok: bool
    notebook: Path | None
    results: Path | None
    seconds: float
    cached: bool = False
    error: str | None = None


def project_root(start: Path | None = None) -> Path:
    """The checkout holding ``_toc.yml`` and ``notebooks/``: searched upward from ``start`` (or the
    current folder), then from the library's own location (an editable install)."""
    for base in (start or Path.cwd(), LIB_DIR):
        for folder in (base, *base.resolve().parents):
            if (folder / "_toc.yml").is_file() and (folder / "notebooks").is_dir():
                return folder
    raise FileNotFoundError("cannot find the book's root (a folder with _toc.yml and notebooks/); "
                            "run from inside the checkout")


def validate_params(info: ChapterInfo, params: dict[str, Any]):
    """Build the chapter's ``Config`` from ``params`` and check the inputs its preset reads from
    disk: bad names or values, or missing data, fail here, in this process, before any kernel
    starts."""
    config_cls = info.load().Config
    known = set(config_cls.__dataclass_fields__)
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for chapter {info.slug}; "
                         f"known: {', '.join(sorted(known))}")
    try:
        config = config_cls(**params)
    except ValueError as e:
        raise ValueError(f"chapter {info.slug}: {e}") from None
    try:
        config.require_data()
    except FileNotFoundError as e:
        raise FileNotFoundError(f"chapter {info.slug}: {e}") from None
    return config


def library_hash(chapter_module: str | None = None, lib_dir: Path = LIB_DIR) -> str:
    """Hash of the library's source: every module except *other* chapters' glue packages, so that
    writing chapter 05 does not invalidate chapter 01's finished run (capability modules, shared by
    all chapters, always count), and except the application layer (``APPLICATION_MODULES``: the
    runner, CLI, sweeps, dashboard), which no chapter computes with."""
    chapters_dir = lib_dir / "chapters"
    own = chapters_dir / chapter_module.rsplit(".", 1)[-1] if chapter_module else None
    digest = hashlib.sha256()
    for path in sorted(lib_dir.rglob("*.py")):
        inside_chapters = chapters_dir in path.parents and path.parent != chapters_dir
        if inside_chapters and (own is None or own not in (path, *path.parents)):
            continue
        if path.parent == lib_dir and path.name in APPLICATION_MODULES:
            continue
        digest.update(path.relative_to(lib_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _text(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def execution_fingerprint(notebook: Path) -> bytes:
    """What executing ``notebook`` depends on: its kernel and, per cell, the type, tags and (for
    code cells) the source. Markdown text is left out: a prose edit reuses the finished run
    (``refresh_markdown`` copies the new text into the executed notebook)."""
    nb = json.loads(notebook.read_text())
    cells = [(c["cell_type"], c.get("metadata", {}).get("tags", []),
              _text(c["source"]) if c["cell_type"] == "code" else None) for c in nb["cells"]]
    return json.dumps([nb.get("metadata", {}).get("kernelspec"), cells], sort_keys=True).encode()


def refresh_markdown(source: Path, executed: Path) -> bool:
    """Copy the markdown cells of ``source`` into the finished run ``executed`` (same cells, as
    ``run_key`` guarantees; papermill's injected-parameters cell skipped). Atomic; True if the
    executed notebook changed."""
    src = json.loads(source.read_text())["cells"]
    out = json.loads(executed.read_text())
    cells = [c for c in out["cells"] if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    if len(cells) != len(src):
        return False
    changed = False
    for new, old in zip(src, cells):
        if new["cell_type"] == "markdown" and _text(new["source"]) != _text(old["source"]):
            old["source"], changed = new["source"], True
    if changed:
        tmp = executed.with_name(f".{executed.name}.markdown.tmp")
        tmp.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
        os.replace(tmp, executed)
    return changed


def run_key(notebook: Path, params: dict[str, Any], chapter_module: str | None = None) -> str:
    """Content hash of (the notebook's code and cell structure, parameters, library source as
    seen by this chapter): same key, same run. Editing prose does not change it."""
    digest = hashlib.sha256(execution_fingerprint(notebook))
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    digest.update(library_hash(chapter_module).encode())
    return digest.hexdigest()


def _is_cached(results: Path, notebook: Path, key: str) -> bool:
    if not (results.is_file() and notebook.is_file()):
        return False
    try:
        return json.loads(results.read_text()).get("run_key") == key
    except (OSError, json.JSONDecodeError):
        return False


def _papermill(source: Path, target: Path, params: dict[str, Any], cwd: Path, retries: int) -> None:
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError

    for attempt in range(retries + 1):
        try:
            pm.execute_notebook(str(source), str(target), parameters=params, cwd=str(cwd),
                                progress_bar=False, kernel_name="python3",
                                execution_timeout=CELL_TIMEOUT_S)
            return
        except CellTimeoutError:  # a hung cell: once more in a fresh kernel, then report it
            if attempt >= min(retries, 1):
                raise
        except (RuntimeError, TimeoutError) as e:  # kernel start races: retry a fresh kernel
            if attempt == retries or not any(s in str(e) for s in KERNEL_START_ERRORS):
                raise
            time.sleep(1 + attempt)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _describe_failure(info: ChapterInfo, error: Exception, failed: Path) -> str:
    cell = getattr(error, "exec_count", None)
    where = f"cell [{cell}]" if cell is not None else "before or between cells"
    ename, evalue = getattr(error, "ename", type(error).__name__), getattr(error, "evalue", str(error))
    return (f"chapter {info.stem} failed in {where}: {ename}: {str(evalue).strip()[:500]} "
            f"(partial notebook: {failed})")


def execute_chapter(slug: str, params: dict[str, Any] | None = None, out_dir: Path | str = "results",
                    *, name: str | None = None, force: bool = False, root: Path | None = None,
                    kernel_retries: int = 2) -> RunOutcome:
    """Execute one chapter's notebook with ``params`` into ``out_dir``; reuse a finished run with
    the same key unless ``force``. Never raises for a failing cell: the outcome says what failed."""
    info, params = get_chapter(slug), dict(params or {})
    validate_params(info, params)
    root = root or project_root()
    source = root / "notebooks" / f"{info.stem}.ipynb"
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = name or info.stem
    notebook, results = out_dir / f"{stem}.ipynb", out_dir / f"{stem}.results.json"
    staging, failed = out_dir / f".{stem}.running.ipynb", out_dir / f"{stem}.failed.ipynb"
    key = run_key(source, params, info.module)
    if not force and _is_cached(results, notebook, key):
        refresh_markdown(source, notebook)  # a prose edit: new text, same run
        return RunOutcome(slug, True, notebook, results, 0.0, cached=True)
    for stale in (notebook, results, failed, staging):  # staging: left by an interrupted run
        stale.unlink(missing_ok=True)
    results_rel = os.path.relpath(results, root)
    started = time.perf_counter()
    previous = os.environ.get(STATIC_ENV)
    os.environ[STATIC_ENV] = "1"  # the kernel inherits it: explorers draw static figures
    try:
        _papermill(source, staging, {**params, "results_path": results_rel}, root, kernel_retries)
    except Exception as e:  # noqa: BLE001 - reported, not swallowed: the outcome carries it
        if staging.exists():
            os.replace(staging, failed)
        results.unlink(missing_ok=True)
        return RunOutcome(slug, False, None, None, time.perf_counter() - started,
                          error=_describe_failure(info, e, failed))
    finally:
        _restore_env(STATIC_ENV, previous)
    os.replace(staging, notebook)
    record = json.loads(results.read_text())
    record.update(run_key=key, runner_wall_s=round(time.perf_counter() - started, 2))
    write_json_atomic(results, record)
    return RunOutcome(slug, True, notebook, results, time.perf_counter() - started)


def _execute_kwargs(kwargs: dict[str, Any]) -> RunOutcome:
    return execute_chapter(**kwargs)


def execute_many(slugs: list[str], out_dir: Path | str, *, params: dict[str, Any] | None = None,
                 jobs: int = 1, force: bool = False) -> list[RunOutcome]:
    """Execute several chapters, each in its own process (papermill is not thread-safe); one
    failing chapter does not stop the others."""
    calls = [dict(slug=s, params=params, out_dir=out_dir, force=force) for s in slugs]
    if jobs <= 1 or len(calls) <= 1:
        return [execute_chapter(**c) for c in calls]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_execute_kwargs, calls))


def build_book(root: Path, output: Path, *, capture: bool = False) -> subprocess.CompletedProcess:
    """``jupyter-book build`` of ``root`` into ``output/_build/html``, warnings as errors. The
    book shows the executed notebooks in book/chapters/ (``execute_notebooks: off``)."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run([str(jupyter_book), "build", str(root), "--path-output", str(output),
                           "--warningiserror", "--nitpick", "--keep-going"],
                          cwd=root, capture_output=capture, text=True)


FIGURE_CELL = re.compile(r"^plots\.(\w+)\(result\);$")


def figure_captions(slug: str, cells: list) -> dict[int, dict[str, str]]:
    """For every code cell that is exactly one ``plots.NAME(result);`` call, the book's figure
    options: the caption is the first paragraph of ``plots.NAME``'s docstring (written once, next
    to the code that draws the figure), the name ``fig-<slug>-<NAME>`` (for cross-references)."""
    import importlib
    import inspect

    plots = importlib.import_module(f"{get_chapter(slug).module}.plots")
    figures = {}
    for i, cell in enumerate(cells):
        match = FIGURE_CELL.match("".join(cell["source"]).strip()) if cell["cell_type"] == "code" else None
        if match:
            doc = inspect.getdoc(getattr(plots, match.group(1))) or ""
            caption = " ".join(doc.split("\n\n")[0].split())
            if not caption:
                raise ValueError(f"{slug}: plots.{match.group(1)} has no docstring to caption its figure")
            figures[i] = {"caption": caption, "name": f"fig-{slug}-{match.group(1).replace('_', '-')}"}
    return figures


def sync_captions(slug: str, root: Path | None = None) -> bool:
    """Write each figure cell's caption (``mystnb.figure`` cell metadata, which the book renders
    as a captioned figure) from ``figure_captions``. Returns True when the notebook changed."""
    import nbformat

    path = (root or project_root()) / "notebooks" / f"{get_chapter(slug).stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    changed = False
    for i, figure in figure_captions(slug, nb.cells).items():
        mystnb = nb.cells[i].metadata.setdefault("mystnb", {})
        if mystnb.get("figure") != figure:
            mystnb["figure"] = figure
            changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


def sync_parameters_cell(slug: str, root: Path | None = None) -> bool:
    """Rewrite the ``parameters`` cell of the chapter's source notebook from its ``Config`` (the
    help text lives once, in the config module). Returns True when the notebook changed."""
    import nbformat

    info = get_chapter(slug)
    path = (root or project_root()) / "notebooks" / f"{info.stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    text = parameters_cell(info.load().Config)
    if cell.source.strip() == text:
        return False
    cell.source = text
    nbformat.write(nb, path)
    return True
