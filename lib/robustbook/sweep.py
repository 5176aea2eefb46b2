"""Sweeps on Dask distributed: one chapter over a grid of parameters, resumable, one Parquet table.

    robustbook sweep sam-label-noise -g label_noise_rate=0.0,0.2,0.4,0.6 -g seed=0..4 --out runs/noise
    robustbook sweep sam-label-noise -g seed=0..19 --scheduler tcp://head-node:8786 --out runs/seeds
    robustbook sweep-report runs/noise --x label_noise_rate --metric metric.best_acc.sam.mean

Each run is one papermill execution (``robustbook.runner.execute_chapter``) in a fresh process of
its own, keyed by a content hash of (chapter, parameters, library version and source, source
notebook). Without ``--scheduler`` an embedded local Dask cluster is started, one single-threaded
worker process per core; with it, the same tasks go to any running Dask scheduler.

Where files live, so that a worker on another host can run a task:

- the notebook is **shipped with the task**: the client reads the chapter's source notebook and
  sends its text; the worker writes it into a private temporary folder and executes it there (that
  folder is the kernel's working directory). A worker needs the ``robustbook`` library installed,
  the same source as the client's (checked by hash before the run starts), not this checkout;
- the results are **shipped back**: the worker returns the executed notebook and the results record,
  and only the client writes ``<out>`` (no shared filesystem needed). A finished run is
  ``<out>/runs/<key>/<stem>.ipynb`` plus ``<stem>.results.json``, both written atomically, the
  results JSON last with its ``sweep_key``: that file is the mark of a finished run, so a killed sweep
  leaves nothing that looks finished and a rerun redoes only what is missing. A failed run leaves
  ``<out>/runs/<key>/failure.json`` (chapter, parameters, error) and is tried again on the next run.

``<out>/results.parquet`` has one row per run of the grid: ``param.<name>`` for the parameters the
sweep set, ``metric.<path>`` for each scalar metric, ``claim.<id>.holds`` / ``.measured``,
``counts.<kind>``, wall times and provenance, ``status`` (``ok`` | ``failed`` | ``pending``) and
``error``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from robustbook import __version__
from robustbook.book.results import write_json_atomic
from robustbook.chapters import ChapterInfo, get_chapter
from robustbook.runner import execute_chapter, library_hash, project_root, run_key, validate_params

RESULTS_TABLE = "results.parquet"
FAILURE_FILE = "failure.json"
OUTCOME_MARK = "ROBUSTBOOK-RUN-OUTCOME "
SEED_COLUMN = "param.seed"


# ---- the grid --------------------------------------------------------------------------------

def parse_axis(spec: str, parse=None) -> tuple[str, list]:
    """``'rate=0.0,0.2'`` -> ``('rate', [0.0, 0.2])``; ``'seed=0..4'`` -> ``('seed', [0, 1, 2, 3, 4])``
    (both ends included). ``parse`` turns one value's text into a value (the CLI's ``parse_value``)."""
    if parse is None:
        from robustbook.cli import parse_value as parse
    name, sep, values = spec.partition("=")
    name, values = name.strip(), values.strip()
    if not sep or not name or not values:
        raise ValueError(f"grid axis {spec!r}: expected NAME=V1,V2,... or NAME=FIRST..LAST")
    span = re.fullmatch(r"(-?\d+)\s*\.\.\s*(-?\d+)", values)
    if span:
        first, last = int(span[1]), int(span[2])
        if last < first:
            raise ValueError(f"grid axis {spec!r}: range {first}..{last} is empty (FIRST..LAST, both "
                             "included, FIRST <= LAST)")
        return name, list(range(first, last + 1))
    items = [v.strip() for v in values.split(",")]
    if any(not v for v in items):
        raise ValueError(f"grid axis {spec!r}: empty value in the list")
    return name, [parse(v) for v in items]


def parse_grid(specs: list[str], parse=None) -> dict[str, list]:
    """Axes in the order given; a name given twice is an error."""
    grid: dict[str, list] = {}
    for spec in specs:
        name, values = parse_axis(spec, parse)
        if name in grid:
            raise ValueError(f"grid axis {name!r} is given twice")
        grid[name] = values
    return grid


@dataclass(frozen=True)
class Run:
    """One run of a sweep: the chapter, the parameters the sweep sets, and its key."""

    chapter: str
    params: dict[str, Any]
    key: str

    @property
    def folder(self) -> str:
        return self.key[:16]


def sweep_key(info: ChapterInfo, notebook: Path, params: dict[str, Any]) -> str:
    """Content hash of (chapter, parameters, library version, library source as the chapter sees
    it, source notebook): same key, same run."""
    digest = hashlib.sha256(f"{info.slug}\0{__version__}\0".encode())
    digest.update(run_key(notebook, params, info.module).encode())  # notebook + params + library
    return digest.hexdigest()


def expand(chapter: str, grid: dict[str, list], fixed: dict[str, Any] | None = None,
           root: Path | None = None) -> list[Run]:
    """Every combination of ``grid`` on top of ``fixed``, each checked by the chapter's ``Config``
    here, before anything is sent to a cluster (a bad value names the combination it is in)."""
    info = get_chapter(chapter)
    if info.module is None:
        raise ValueError(f"chapter {info.stem} is not written yet: nothing to sweep")
    fixed = dict(fixed or {})
    both = sorted(set(grid) & set(fixed))
    if both:
        raise ValueError(f"parameter(s) {both} are both swept (-g) and fixed (-p)")
    if "results_path" in grid or "results_path" in fixed:
        raise ValueError("results_path is set by the sweep (each run writes into its own folder)")
    notebook = (root or project_root()) / "notebooks" / f"{info.stem}.ipynb"
    runs, seen = [], set()
    for combo in itertools.product(*grid.values()):
        params = {**fixed, **dict(zip(grid, combo))}
        try:
            validate_params(info, params)
        except ValueError as e:
            raise ValueError(f"{e} (in the combination {params})") from None
        except FileNotFoundError:
            pass  # names and values are fine; the data are checked where the run happens (a worker)
        key = sweep_key(info, notebook, params)
        if key not in seen:
            seen.add(key)
            runs.append(Run(info.slug, params, key))
    if not runs:
        raise ValueError("the grid is empty")
    return runs


# ---- one run, on a worker --------------------------------------------------------------------

def execute_task(task: dict[str, Any]) -> dict[str, Any]:
    """What a Dask worker executes: check the library matches the client's, write the shipped
    notebook into a temporary folder, run it in a fresh process (``timeout`` seconds at most), and
    return the executed notebook and the results record, or the error. Never raises for a failing
    run: the outcome says what failed."""
    info = get_chapter(task["chapter"])
    host = socket.gethostname()
    started = time.perf_counter()

    def failed(error: str) -> dict[str, Any]:
        return {"ok": False, "error": error, "host": host, "worker": _worker(),
                "seconds": time.perf_counter() - started}

    mine = library_hash(info.module)
    if mine != task["library"]:
        return failed(f"the worker's robustbook ({__version__}, source hash {mine[:12]}) differs from "
                      f"the client's (source hash {task['library'][:12]}): install the same library "
                      "on every worker")
    with tempfile.TemporaryDirectory(prefix="robustbook-run-") as tmp:
        root = Path(tmp)
        (root / "notebooks").mkdir()
        (root / "notebooks" / f"{info.stem}.ipynb").write_text(task["notebook"])
        spec = {"chapter": info.slug, "params": task["params"], "root": str(root),
                "out": str(root / "out"), "kernel_retries": task["kernel_retries"]}
        proc = subprocess.Popen([sys.executable, "-m", "robustbook.sweep"], cwd=root,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(json.dumps(spec), timeout=task["timeout"])
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return failed(f"timed out after {task['timeout']} s (the run's process was killed)")
        outcome = next((json.loads(line[len(OUTCOME_MARK):]) for line in stdout.splitlines()
                        if line.startswith(OUTCOME_MARK)), None)
        if outcome is None:
            return failed(f"the run's process exited with status {proc.returncode} without an outcome: "
                          f"{stderr.strip()[-800:]}")
        if not outcome["ok"]:
            return failed(outcome["error"])
        notebook = Path(outcome["notebook"]).read_text()
        record = json.loads(Path(outcome["results"]).read_text())
    return {"ok": True, "notebook": notebook, "record": record, "host": host, "worker": _worker(),
            "seconds": time.perf_counter() - started}


def _worker() -> str | None:
    """The address of the Dask worker running this task (None outside a worker)."""
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:
        return None


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the run's process and anything it started
    except ProcessLookupError:
        pass
    proc.communicate()


def _child_main() -> int:
    """``python -m robustbook.sweep``: one run in this fresh process (papermill's working
    directory handling is per process); the spec comes on stdin, the outcome is one marked line."""
    spec = json.loads(sys.stdin.read())
    try:
        outcome = execute_chapter(spec["chapter"], spec["params"], spec["out"], root=Path(spec["root"]),
                                  kernel_retries=spec["kernel_retries"])
        report = {"ok": outcome.ok, "error": outcome.error, "notebook": str(outcome.notebook),
                  "results": str(outcome.results)}
    except Exception as e:  # noqa: BLE001 - e.g. the preset's data missing on this worker: reported
        report = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    print(OUTCOME_MARK + json.dumps(report), flush=True)
    return 0


# ---- the sweep, on the client ----------------------------------------------------------------

@dataclass
class SweepSummary:
    out: Path
    table: Path
    runs: int
    skipped: int = 0      # finished before this call
    done: int = 0         # finished by this call
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


def _stem(run: Run) -> str:
    return get_chapter(run.chapter).stem


def run_paths(out: Path, run: Run) -> tuple[Path, Path, Path]:
    """(executed notebook, results JSON, failure JSON) of ``run`` under ``out``."""
    folder = out / "runs" / run.folder
    return folder / f"{_stem(run)}.ipynb", folder / f"{_stem(run)}.results.json", folder / FAILURE_FILE


def finished_record(out: Path, run: Run) -> dict | None:
    """The results record of ``run`` if it finished (notebook present, record carries its key)."""
    notebook, results, _ = run_paths(out, run)
    if not (notebook.is_file() and results.is_file()):
        return None
    try:
        record = json.loads(results.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record if record.get("sweep_key") == run.key else None


def _write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _store(out: Path, run: Run, result: dict[str, Any]) -> None:
    """Write a run's outcome: notebook then results JSON (the finished mark) for a success, the
    failure record otherwise."""
    notebook, results, failure = run_paths(out, run)
    if result["ok"]:
        _write_text_atomic(notebook, result["notebook"])
        record = {**result["record"], "sweep_key": run.key, "sweep_params": run.params,
                  "host": result["host"], "worker": result.get("worker"),
                  "task_s": round(result["seconds"], 2)}
        write_json_atomic(results, record)
        failure.unlink(missing_ok=True)
    else:
        results.unlink(missing_ok=True)
        write_json_atomic(failure, {"chapter": run.chapter, "params": run.params, "sweep_key": run.key,
                                    "error": result["error"], "host": result.get("host"),
                                    "worker": result.get("worker"),
                                    "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


def _client(scheduler: str | None, n_workers: int | None):
    """A Dask client: connected to ``scheduler`` or to an embedded local cluster of
    ``n_workers`` (default: one per core) single-threaded worker processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout=10)
        except (OSError, TimeoutError) as e:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
    cluster = LocalCluster(n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1,
                           processes=True, host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    client.cluster_owned = cluster  # closed with the client (see run_sweep)
    return client


def run_sweep(chapter: str, grid: dict[str, list], fixed: dict[str, Any] | None = None,
              out: Path | str = "runs", *, scheduler: str | None = None, n_workers: int | None = None,
              timeout: float | None = None, retries: int = 1, kernel_retries: int = 2,
              progress: bool = True, root: Path | None = None) -> SweepSummary:
    """Run every combination of ``grid`` (on top of ``fixed``) of ``chapter`` not already finished
    in ``out``, on the Dask cluster at ``scheduler`` or an embedded local one; write
    ``out/results.parquet``. A failing run is recorded and does not stop the others."""
    root = root or project_root()
    runs = expand(chapter, grid, fixed, root)
    info = get_chapter(chapter)
    out = Path(out).resolve()
    summary = SweepSummary(out, out / RESULTS_TABLE, len(runs))
    todo = [r for r in runs if finished_record(out, r) is None]
    summary.skipped = len(runs) - len(todo)
    client = _client(scheduler, n_workers) if todo else None  # an unreachable cluster fails here
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "sweep.json", {"chapter": info.slug, "grid": grid, "fixed": fixed or {},
                                           "robustbook": __version__, "runs": len(runs)})
    started = time.perf_counter()
    try:
        if client is not None:
            _submit_all(summary, todo, info, root, client, timeout=timeout, retries=retries,
                        kernel_retries=kernel_retries, progress=progress)
    finally:  # also when interrupted: the table then shows what finished and what is pending
        summary.seconds = time.perf_counter() - started
        write_table(collect(out, runs), summary.table)
        if client is not None:
            cluster = getattr(client, "cluster_owned", None)
            client.close()
            if cluster is not None:
                cluster.close()
    return summary


def _submit_all(summary: SweepSummary, todo: list[Run], info: ChapterInfo, root: Path, client, *,
                timeout, retries, kernel_retries, progress) -> None:
    from distributed import as_completed
    from tqdm.auto import tqdm

    notebook = (root / "notebooks" / f"{info.stem}.ipynb").read_text()
    library = library_hash(info.module)
    bar = tqdm(total=summary.runs, initial=summary.skipped, unit="run", disable=not progress,
               desc=f"sweep {info.slug}")
    try:
        futures, runs_by_key = [], {}
        for run in todo:
            task = {"chapter": run.chapter, "params": run.params, "notebook": notebook,
                    "library": library, "timeout": timeout, "kernel_retries": kernel_retries}
            future = client.submit(execute_task, task, key=f"robustbook-{run.folder}-{os.urandom(4).hex()}",
                                   pure=False, retries=retries)
            futures.append(future)
            runs_by_key[future.key] = run
        bar.set_postfix(done=summary.skipped, failed=0, remaining=len(todo))
        for future in as_completed(futures):
            run = runs_by_key[future.key]
            try:
                result = future.result()
            except Exception as e:  # noqa: BLE001 - a worker lost or a task error: recorded
                result = {"ok": False, "error": f"{type(e).__name__}: {e}", "host": None}
            _store(summary.out, run, result)
            if result["ok"]:
                summary.done += 1
            else:
                summary.failed.append({"params": run.params, "error": result["error"]})
            bar.update(1)
            bar.set_postfix(done=summary.skipped + summary.done, failed=len(summary.failed),
                            remaining=summary.runs - summary.skipped - summary.done - len(summary.failed))
    finally:
        bar.close()


# ---- the table -------------------------------------------------------------------------------

def _scalars(tree: Any, prefix: str) -> dict[str, Any]:
    """Scalar leaves of a nested dict as ``{prefix.path: value}``; a flat list of numbers (a value
    per seed) as its mean, ``{prefix.path.mean: mean}``. Other lists are left out: the full metrics
    are in ``metrics_json``."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_scalars(v, f"{prefix}.{k}"))
        return out
    if isinstance(tree, (bool, int, float, str)) or tree is None:
        return {prefix: tree}
    if (isinstance(tree, list) and tree and not prefix.endswith(".seeds")
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in tree)):
        return {f"{prefix}.mean": sum(tree) / len(tree)}
    return {}


def _param_columns(params: dict[str, Any]) -> dict[str, Any]:
    return {f"param.{k}": (v if isinstance(v, (bool, int, float, str)) or v is None else json.dumps(v))
            for k, v in params.items()}


def row(run: Run, record: dict | None, failure: dict | None) -> dict[str, Any]:
    """One table row: parameters, status, metrics, claims, counts, wall times, provenance."""
    base = {"chapter": run.chapter, "run_key": run.key, **_param_columns(run.params)}
    if record is None:
        status = "failed" if failure else "pending"
        return {**base, "status": status, "error": failure["error"] if failure else None}
    env = record.get("env", {})
    packages = env.get("packages", {})
    out = {**base, "status": "ok", "error": None, **_scalars(record.get("metrics", {}), "metric")}
    for claim in record.get("claims", []):
        out[f"claim.{claim['id']}.holds"] = claim.get("holds")
        out[f"claim.{claim['id']}.measured"] = claim.get("measured")
    out.update({f"counts.{k}": v for k, v in record.get("counts", {}).items()})
    out.update({"wall_s": record.get("wall_s"), "runner_wall_s": record.get("runner_wall_s"),
                "task_s": record.get("task_s"), "host": record.get("host"),
                "worker": record.get("worker"),
                "finished_utc": env.get("finished_utc"), "git": env.get("git"),
                "python": env.get("python"), "robustbook": packages.get("robustbook"),
                "torch": packages.get("torch"), "cuda": env.get("cuda"),
                "params_json": json.dumps(record.get("params"), sort_keys=True, default=str),
                "metrics_json": json.dumps(record.get("metrics"), sort_keys=True, default=str),
                "notebook": f"runs/{run.folder}/{_stem(run)}.ipynb"})
    return out


def collect(out: Path, runs: list[Run]) -> pd.DataFrame:
    """The sweep's table: one row per run of the grid, finished or not."""
    rows = []
    for run in runs:
        record = finished_record(out, run)
        failure = None
        if record is None:
            path = run_paths(out, run)[2]
            try:
                failure = json.loads(path.read_text()) if path.is_file() else None
            except (OSError, json.JSONDecodeError):
                failure = None
            if failure is not None and failure.get("sweep_key") != run.key:
                failure = None
        rows.append(row(run, record, failure))
    return pd.DataFrame(rows)


def write_table(table: pd.DataFrame, path: Path) -> Path:
    """Parquet, written to a temporary file and renamed into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        table.to_parquet(tmp, index=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# ---- the report ------------------------------------------------------------------------------

def read_table(path: Path | str) -> pd.DataFrame:
    """A sweep's table from ``<out>`` or the Parquet file itself."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_TABLE
    if not path.is_file():
        raise FileNotFoundError(f"no sweep table at {path} (run `robustbook sweep ... --out FOLDER` first)")
    return pd.read_parquet(path)


BOOK_SWEEPS = Path(__file__).parent / "book_sweeps"


def book_sweep(slug: str) -> pd.DataFrame:
    """The sweep table the book draws for chapter ``slug``, shipped inside the package (so a chapter
    executed on a cluster worker, or from an installed wheel, finds it as well as one in a checkout)."""
    path = BOOK_SWEEPS / f"{slug}.parquet"
    if not path.is_file():
        known = sorted(p.stem for p in BOOK_SWEEPS.glob("*.parquet"))
        raise FileNotFoundError(f"the book has no committed sweep for {slug!r} (it has: {known})")
    return pd.read_parquet(path)


def summarize(table: pd.DataFrame, x: str, metrics: list[str], confidence: float = 0.95) -> pd.DataFrame:
    """Mean, standard deviation, n and the half-width of a Student-t confidence interval of each
    metric across seeds, per value of ``x`` (and of any other swept parameter that varies).
    Only finished runs count."""
    from scipy import stats

    x_col = x if x.startswith("param.") else f"param.{x}"
    missing = [c for c in (x_col, *metrics) if c not in table.columns]
    if missing:
        known = ", ".join(c for c in table.columns if c.startswith(("param.", "metric.")))
        raise ValueError(f"column(s) {missing} not in the sweep table; columns: {known}")
    ok = table[table["status"] == "ok"]
    if ok.empty:
        raise ValueError("the sweep table has no finished runs")
    others = [c for c in ok.columns if c.startswith("param.") and c not in (x_col, SEED_COLUMN)
              and ok[c].astype(str).nunique() > 1]
    rows = []
    for keys, group in ok.groupby([x_col, *others], sort=True, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for metric in metrics:
            values = group[metric].astype(float).dropna()
            n = len(values)
            sd = values.std(ddof=1) if n > 1 else float("nan")
            half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / n ** 0.5 if n > 1 else float("nan")
            rows.append({**dict(zip([x_col, *others], keys)), "metric": metric, "mean": values.mean(),
                         "std": sd, "n": n, "ci_low": values.mean() - half, "ci_high": values.mean() + half})
    return pd.DataFrame(rows)


def plot_summary(summary: pd.DataFrame, x: str, ax=None, labels: dict[str, str] | None = None,
                 confidence: float = 0.95):
    """Mean ± CI of each metric against ``x``: one line per metric (and per other varying parameter)."""
    import matplotlib.pyplot as plt

    x_col = x if x.startswith("param.") else f"param.{x}"
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    others = [c for c in summary.columns if c.startswith("param.") and c != x_col]
    for keys, group in summary.groupby(["metric", *others], sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        name = (labels or {}).get(keys[0], _short(keys[0]))
        if others:
            name += " (" + ", ".join(f"{c[6:]}={v}" for c, v in zip(others, keys[1:])) + ")"
        group = group.sort_values(x_col)
        line, = ax.plot(group[x_col], group["mean"], marker="o", label=name)
        ax.fill_between(group[x_col], group["ci_low"], group["ci_high"], color=line.get_color(), alpha=0.2)
    n = int(summary["n"].min())
    ax.set_xlabel(x_col[6:])
    ax.set_title(f"mean ± {confidence:.0%} CI across seeds (n = {n} per point)", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def _short(metric: str) -> str:
    """``metric.best_acc.sam.mean`` -> ``best_acc.sam``."""
    return metric.removeprefix("metric.").removesuffix(".mean")


def markdown_table(summary: pd.DataFrame, x: str, digits: int = 3) -> str:
    """The summary as a Markdown table (rows: values of ``x``; columns: mean ± the confidence
    interval's half-width of each metric; n: seeds per row), as the book shows it."""
    x_col = x if x.startswith("param.") else f"param.{x}"
    metrics = list(dict.fromkeys(summary["metric"]))
    lines = [f"| {x_col[6:]} | " + " | ".join(_short(m) for m in metrics) + " | n |",
             "|---" * (len(metrics) + 2) + "|"]
    for value, group in summary.groupby(x_col, sort=True):
        cells = []
        for m in metrics:
            r = group[group["metric"] == m].iloc[0]
            cells.append(f"{r['mean']:.{digits}f} ± {(r['ci_high'] - r['mean']):.{digits}f}")
        lines.append(f"| {value} | " + " | ".join(cells) + f" | {int(group['n'].min())} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(_child_main())
