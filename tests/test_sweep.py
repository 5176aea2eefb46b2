"""`robustbook sweep` on Dask distributed, tested the way a user meets it: a real `dask scheduler` and
two `dask worker` processes on 127.0.0.1, the workers importing the library from a copy outside the
checkout and running in folders of their own (as a worker on another host would), a sweep of
chapter 01 at preset smoke killed mid-way and resumed, a failing combination isolated, a run timing
out on the embedded local cluster, and the Parquet table and the report checked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from robustbook import sweep
from robustbook.cli import main, parse_value

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHAPTER = "sam-label-noise"
# preset smoke cut further: one seed per run, one epoch (plumbing, not results)
SMOKE = {"preset": "smoke", "n_seeds": 1, "epochs": 1, "one_sam_epochs": 1}
SMOKE_ARGS = [a for k, v in SMOKE.items() if k != "preset" for a in ("-p", k, str(v))]
METRIC = "metric.best_acc.sam.mean"
pytestmark = pytest.mark.xdist_group("dask-sweep")


# ---- the grid and the table, no cluster ----------------------------------------------------

def test_grid_axes_lists_and_inclusive_ranges():
    grid = sweep.parse_grid(["label_noise_rate=0.0,0.2,0.4", "seed=2..4", "sam_mode=batch,1-sam"],
                            parse_value)
    assert grid == {"label_noise_rate": [0.0, 0.2, 0.4], "seed": [2, 3, 4], "sam_mode": ["batch", "1-sam"]}
    for bad, message in [("seed", "expected NAME="), ("seed=", "expected NAME="), ("=1,2", "expected NAME="),
                         ("seed=4..2", "is empty"), ("rate=0.1,,0.2", "empty value")]:
        with pytest.raises(ValueError, match=message):
            sweep.parse_grid([bad], parse_value)
    with pytest.raises(ValueError, match="given twice"):
        sweep.parse_grid(["seed=0,1", "seed=2..3"], parse_value)


def test_expand_is_the_product_checked_before_any_cluster(monkeypatch):
    runs = sweep.expand(CHAPTER, {"label_noise_rate": [0.2, 0.4], "seed": [0, 1, 2]}, {"preset": "smoke"})
    assert len(runs) == 6 and len({r.key for r in runs}) == 6
    assert runs[1].params == {"preset": "smoke", "label_noise_rate": 0.2, "seed": 1}  # last axis fastest
    same = sweep.expand(CHAPTER, {"preset": ["smoke"]}, {"seed": 1, "label_noise_rate": 0.2})
    assert same[0].key == runs[1].key  # the key depends on the parameters, not on how they were given
    with pytest.raises(ValueError, match=r"label_noise_rate must be in \[0, 1\).*'label_noise_rate': 1.5"):
        sweep.expand(CHAPTER, {"label_noise_rate": [0.2, 1.5]})
    # a paper preset's data are checked on the worker that runs it, not on this machine
    assert len(sweep.expand(CHAPTER, {"preset": ["paper"]}, {"data_dir": "/on/the/cluster"})) == 1
    with pytest.raises(ValueError, match="unknown parameter"):
        sweep.expand(CHAPTER, {"learning_rate": [0.1]})
    with pytest.raises(ValueError, match="both swept"):
        sweep.expand(CHAPTER, {"seed": [0, 1]}, {"seed": 3})
    with pytest.raises(ValueError, match="results_path is set by the sweep"):
        sweep.expand(CHAPTER, {"seed": [0]}, {"results_path": "x.json"})
    # all ten chapters are written: an unwritten one is made up for the check
    from robustbook import chapters
    monkeypatch.setitem(chapters.CHAPTERS, "unwritten", chapters.ChapterInfo(
        11, "unwritten", "A chapter not written yet", "robust-training", "0000.00000", "none"))
    with pytest.raises(ValueError, match="not written yet"):
        sweep.expand("unwritten", {"seed": [0]})


def test_bad_sweep_is_refused_before_anything_starts(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", CHAPTER, "-g", "label_noise_rate=0.2,1.5", "--out", str(out)]) == 2
    assert "label_noise_rate must be in [0, 1)" in capsys.readouterr().err
    assert not out.exists()
    assert main(["sweep", "no-such-chapter", "-g", "seed=0..1", "--out", str(out)]) == 2
    assert main(["sweep", CHAPTER, "-g", "seed=0", "--scheduler", "tcp://127.0.0.1:9", "--out",
                 str(out)]) == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


def test_metric_columns_flatten_per_seed_lists_to_their_mean():
    flat = sweep._scalars({"seeds": [0, 1], "best_acc": {"sam": [0.5, 0.75]}, "gap": 1e-9,
                           "curves": [[1, 2], [3, 4]], "ok": True}, "metric")
    assert flat == {"metric.best_acc.sam.mean": 0.625, "metric.gap": 1e-9, "metric.ok": True}


def _table() -> pd.DataFrame:
    rows = []
    for rate, values in ((0.0, [0.9, 0.8, 0.7]), (0.4, [0.5, 0.1, 0.3])):
        for seed, v in enumerate(values):
            rows.append({"param.label_noise_rate": rate, "param.seed": seed, "param.preset": "cpu",
                         "status": "ok", METRIC: v, "metric.best_acc.sgd.mean": v - 0.1})
    rows.append({"param.label_noise_rate": 0.4, "param.seed": 3, "param.preset": "cpu",
                 "status": "failed", METRIC: None, "metric.best_acc.sgd.mean": None})
    return pd.DataFrame(rows)


def test_summary_is_mean_and_student_t_interval_across_seeds():
    summary = sweep.summarize(_table(), "label_noise_rate", [METRIC])
    high = summary[summary["param.label_noise_rate"] == 0.4].iloc[0]
    half = stats.t.ppf(0.975, 2) * 0.2 / 3 ** 0.5  # values 0.5, 0.1, 0.3: sd 0.2, n 3 (failed row left out)
    assert high["n"] == 3 and high["mean"] == pytest.approx(0.3) and high["std"] == pytest.approx(0.2)
    assert (high["ci_low"], high["ci_high"]) == pytest.approx((0.3 - half, 0.3 + half))
    with pytest.raises(ValueError, match="not in the sweep table"):
        sweep.summarize(_table(), "rho", [METRIC])


def test_sweep_report_command_prints_and_draws(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    sweep.write_table(_table(), tmp_path / "s" / sweep.RESULTS_TABLE)
    figure = tmp_path / "noise.png"
    assert main(["sweep-report", str(tmp_path / "s"), "--x", "label_noise_rate", "--metric", METRIC,
                 "--metric", "metric.best_acc.sgd.mean", "--figure", str(figure)]) == 0
    printed = capsys.readouterr().out
    assert "metric.best_acc.sgd.mean" in printed and figure.stat().st_size > 5000
    assert main(["sweep-report", str(tmp_path / "none"), "--x", "seed", "--metric", METRIC]) == 2


# ---- a real scheduler and two workers on 127.0.0.1 -----------------------------------------

def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"waited {seconds} s for {what}")


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory) -> dict:
    """`dask scheduler` and two `dask worker`s as separate processes on 127.0.0.1. The workers
    import robustbook from a copy of the library outside the checkout and run in empty folders."""
    from distributed import Client

    base = tmp_path_factory.mktemp("dask")
    shutil.copytree(ROOT / "lib" / "robustbook", base / "worker-lib" / "robustbook",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(base / "worker-lib"), "OMP_NUM_THREADS": "1"}
    file = base / "scheduler.json"
    procs = [subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", file], cwd=base,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        address = _wait_for(lambda: file.is_file() and json.loads(file.read_text() or "{}").get("address"),
                            60, "the scheduler")
        for i in range(2):
            cwd = base / f"worker-{i}"
            cwd.mkdir()
            procs.append(subprocess.Popen(
                [BIN / "dask", "worker", address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1",
                 "--no-dashboard", "--name", f"w{i}", "--local-directory", cwd], cwd=cwd, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=120)
            workers = set(client.scheduler_info()["workers"])
            where = client.run(lambda: __import__("robustbook").__file__)
        assert all(str(base / "worker-lib") in path for path in where.values()), where
        yield {"address": address, "workers": workers}
    finally:
        _stop(procs[1:])
        _stop(procs[:1])


@pytest.fixture(scope="module")
def sweep_out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sweep") / "out"


def _finished(out: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*.results.json")}


@pytest.mark.slow
def test_sweep_on_a_scheduler_is_killed_and_resumes(scheduler, sweep_out):
    cmd = [str(BIN / "robustbook"), "sweep", CHAPTER, "-g", "seed=0..2", "-p", "preset", "smoke",
           *SMOKE_ARGS, "--scheduler", scheduler["address"], "--out", str(sweep_out)]
    first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _finished(sweep_out) or first.poll() is not None, 400, "a first finished run")
    finally:
        first.send_signal(signal.SIGKILL)
        _, first_err = first.communicate()
    finished = _finished(sweep_out)
    failures = [p.read_text()[-2000:] for p in sweep_out.glob(f"runs/*/{sweep.FAILURE_FILE}")]
    # two workers, three runs: the kill comes before the third can finish
    assert 1 <= len(finished) <= 2, (first_err[-3000:], failures)
    assert not (sweep_out / sweep.RESULTS_TABLE).exists()  # a killed sweep claims nothing
    for results in finished:  # a results file is only there with its notebook and its key
        assert results.with_name(results.name.replace(".results.json", ".ipynb")).is_file()
        assert json.loads(results.read_text())["sweep_key"].startswith(results.parent.name)

    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"3 runs: {len(finished)} finished before, {3 - len(finished)} done now, 0 failed" in again.stdout
    assert _finished(sweep_out) | finished == _finished(sweep_out)
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in finished.items())  # not redone
    assert "done=3, failed=0, remaining=0" in again.stderr  # the progress bar

    table = pd.read_parquet(sweep_out / sweep.RESULTS_TABLE)
    assert sorted(table["param.seed"]) == [0, 1, 2] and set(table["status"]) == {"ok"}
    assert table["run_key"].is_unique and set(table["param.preset"]) == {"smoke"}
    assert set(table["worker"]) <= scheduler["workers"]
    assert table[METRIC].between(0, 1).all() and table["wall_s"].gt(0).all()
    claims = [c for c in table.columns if c.startswith("claim.") and c.endswith(".holds")]
    assert claims and table[claims].isna().all().all()  # smoke: claims are not judged
    for _, r in table.iterrows():
        record = json.loads((sweep_out / r["notebook"]).with_suffix(".results.json").read_text())
        assert {k: r[f"counts.{k}"] for k in record["counts"]} == record["counts"]
        assert r["wall_s"] == record["wall_s"] and r["finished_utc"] == record["env"]["finished_utc"]
        assert json.loads(r["params_json"])["seed"] == r["param.seed"]


@pytest.mark.slow
def test_failing_combination_is_recorded_and_does_not_stop_the_sweep(scheduler, sweep_out, capsys):
    # the smoke run is the one the previous test finished (same parameters, same key): reused;
    # preset paper without data_dir fails in the notebook (CIFAR-10 needs data_dir)
    args = ["sweep", CHAPTER, "-g", "preset=smoke,paper", "-p", "seed", "0", *SMOKE_ARGS,
            "--scheduler", scheduler["address"], "--out", str(sweep_out), "--no-progress"]
    assert main(args) == 1
    printed = capsys.readouterr()
    assert "FAILED  {" in printed.err and "CIFAR-10 needs data_dir" in printed.err
    table = pd.read_parquet(sweep_out / sweep.RESULTS_TABLE)
    assert len(table) == 2
    ok, failed = (table[table["param.preset"] == p].iloc[0] for p in ("smoke", "paper"))
    assert ok["status"] == "ok" and failed["status"] == "failed"
    assert "CIFAR-10 needs data_dir" in failed["error"] and pd.isna(failed[METRIC])
    failure_dir = sweep_out / "runs" / failed["run_key"][:16]
    assert json.loads((failure_dir / sweep.FAILURE_FILE).read_text())["params"]["preset"] == "paper"
    assert not list(failure_dir.glob("*.results.json"))


@pytest.mark.slow
def test_embedded_local_cluster_times_a_run_out(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["sweep", CHAPTER, "-g", "seed=0", "-p", "preset", "smoke", *SMOKE_ARGS, "--workers", "1",
            "--timeout", "3", "--out", str(out), "--no-progress"]
    assert main(args) == 1
    assert "timed out after 3.0 s" in capsys.readouterr().err
    table = pd.read_parquet(out / sweep.RESULTS_TABLE)
    assert list(table["status"]) == ["failed"] and not list(out.glob("runs/*/*.ipynb"))


# ---- the book's sweep: a real one, drawn on the "Running at scale" page --------------------

BOOK_SWEEP = ROOT / "lib" / "robustbook" / "book_sweeps" / "sam-label-noise.parquet"
BOOK_METRICS = ["metric.best_acc.sgd.mean", "metric.best_acc.sam.mean", "metric.final_acc.sgd.mean",
                "metric.final_acc.sam.mean"]


def test_scale_page_shows_the_committed_sweep_table():
    table = sweep.read_table(BOOK_SWEEP)
    assert table.equals(sweep.book_sweep(CHAPTER))
    with pytest.raises(FileNotFoundError, match="no committed sweep for 'autoft'"):
        sweep.book_sweep("autoft")
    assert set(table["status"]) == {"ok"} and set(table["param.preset"]) == {"cpu"}
    assert sorted(set(table["param.label_noise_rate"])) == [0.0, 0.2, 0.4, 0.6]
    assert table.groupby("param.label_noise_rate")["param.seed"].nunique().min() >= 2
    summary = sweep.summarize(table, "label_noise_rate", BOOK_METRICS)
    page = (ROOT / "book" / "scale.md").read_text()
    assert sweep.markdown_table(summary, "label_noise_rate") in page  # the page's numbers are the table's
    figure = ROOT / "book" / "sweeps" / "sam-label-noise.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"sweeps/{figure.name}" in page
    assert "- file: book/scale" in (ROOT / "_toc.yml").read_text()
