"""The ``robustbook`` command: run one chapter, build the book, list chapters and results.

    robustbook run sam-label-noise -p label_noise_rate 0.4 -p seed 3
    robustbook book [--jobs 2] [--no-build]
    robustbook list
    robustbook sync-params     # notebooks' parameters cells from the chapters' Config, figure captions from plots
    robustbook sweep sam-label-noise -g label_noise_rate=0.0,0.2 -g seed=0..4 --out runs/noise
    robustbook sweep-report runs/noise --x label_noise_rate --metric metric.best_acc.sam.mean
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import yaml

from robustbook import __version__
from robustbook.book.claims import from_record, headline
from robustbook.chapters import get_chapter, implemented
from robustbook.runner import (
    build_book,
    execute_chapter,
    execute_many,
    project_root,
    sync_captions,
    sync_parameters_cell,
)


def parse_value(text: str):
    """'0.4' -> 0.4, '3' -> 3, 'None' -> None, '[0, 1]' -> [0, 1], anything else stays a string."""
    if text.strip().lower() in ("none", "null", "~"):
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float, bool, list, type(None))) else text


def _params(pairs: list[list[str]] | None) -> dict:
    return {name: parse_value(value) for name, value in (pairs or [])}


def cmd_run(args: argparse.Namespace) -> int:
    info = get_chapter(args.chapter)
    params = _params(args.param)
    name = info.stem
    if params:  # one file per parameter set, so runs with other parameters never collide
        name += "-" + hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    outcome = execute_chapter(info.slug, params, args.out, name=name, force=args.force)
    return _report([outcome])


def _report(outcomes) -> int:
    for o in outcomes:
        if not o.ok:
            print(f"FAILED  {o.error}", file=sys.stderr)
            continue
        record = json.loads(o.results.read_text())
        status = "cached" if o.cached else f"{o.seconds:.0f} s"
        verdict = headline(from_record(record))
        print(f"ok      {o.chapter}: {verdict} ({status}, chapter wall "
              f"{record['wall_s']:.0f} s)\n        notebook {o.notebook}\n        results  {o.results}")
    return 0 if all(o.ok for o in outcomes) else 1


def cmd_book(args: argparse.Namespace) -> int:
    root = project_root()
    slugs = [c.slug for c in implemented()]
    code = _report(execute_many(slugs, root / "book" / "chapters", jobs=args.jobs, force=args.force))
    if args.no_build:
        return code
    build = build_book(root, root / "book")
    if build.returncode == 0:
        print(f"book: {root / 'book' / '_build' / 'html' / 'index.html'}")
    return code or build.returncode


def cmd_list(args: argparse.Namespace) -> int:
    from robustbook.dashboard import last_run_line, statuses

    for status in statuses(project_root()):
        info = status.info
        if info.module is None:
            print(f"{info.number:02d}  {info.slug:<26} (not written yet)  {info.title}")
            continue
        presets = ", ".join(info.load().PRESETS)
        print(f"{info.number:02d}  {info.slug:<26} presets: {presets}  {info.title}\n"
              f"    last book run: {last_run_line(status)}")
    return 0


def cmd_sync_params(args: argparse.Namespace) -> int:
    for info in implemented():
        if sync_parameters_cell(info.slug):
            print(f"rewrote the parameters cell of notebooks/{info.stem}.ipynb")
        if sync_captions(info.slug):
            print(f"rewrote the figure captions of notebooks/{info.stem}.ipynb")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from robustbook import sweep  # imports Dask: only for the commands that use it

    try:
        summary = sweep.run_sweep(args.chapter, sweep.parse_grid(args.grid or [], parse_value),
                                  _params(args.param), args.out, scheduler=args.scheduler,
                                  n_workers=args.workers, timeout=args.timeout, retries=args.retries,
                                  progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"interrupted: finished runs are kept in {args.out}; run the same command to resume",
              file=sys.stderr)
        return 130
    print(f"sweep {args.chapter}: {summary.runs} runs: {summary.skipped} finished before, "
          f"{summary.done} done now, {len(summary.failed)} failed ({summary.seconds:.0f} s)\n"
          f"table {summary.table}")
    for failure in summary.failed:
        print(f"FAILED  {failure['params']}: {failure['error']}", file=sys.stderr)
    return 0 if summary.ok else 1


def cmd_sweep_report(args: argparse.Namespace) -> int:
    from robustbook import sweep

    table = sweep.read_table(args.table)
    summary = sweep.summarize(table, args.x, args.metric, confidence=args.confidence)
    print(sweep.markdown_table(summary, args.x) if args.markdown else summary.to_string(index=False))
    if args.figure:
        ax = sweep.plot_summary(summary, args.x, confidence=args.confidence)
        ax.figure.savefig(args.figure, dpi=150, bbox_inches="tight")
        print(f"figure {args.figure}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="robustbook", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"robustbook {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute one chapter with papermill")
    run.add_argument("chapter", help="chapter slug, e.g. sam-label-noise")
    run.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"))
    run.add_argument("--out", type=Path, default=Path("results"), help="output folder (results/)")
    run.add_argument("--force", action="store_true", help="re-run even if a finished run matches")
    run.set_defaults(func=cmd_run)
    book = sub.add_parser("book", help="execute every chapter (preset cpu) and build the HTML book")
    book.add_argument("--jobs", type=int, default=1, help="chapters executed at once")
    book.add_argument("--force", action="store_true")
    book.add_argument("--no-build", action="store_true", help="execute only, skip jupyter-book")
    book.set_defaults(func=cmd_book)
    sub.add_parser("list", help="chapters, presets, last results").set_defaults(func=cmd_list)
    sub.add_parser("sync-params", help="rewrite each notebook's parameters cell from its Config "
                   "(help text is written once, in the chapter's config module)").set_defaults(
        func=cmd_sync_params)
    sw = sub.add_parser("sweep", help="run one chapter over a grid of parameters on Dask "
                        "(resumable; one Parquet table)")
    sw.add_argument("chapter", help="chapter slug, e.g. sam-label-noise")
    sw.add_argument("-g", "--grid", action="append", metavar="NAME=V1,V2|NAME=A..B",
                    help="a swept parameter (repeat for a grid; A..B includes both ends)")
    sw.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                    help="a parameter fixed for every run")
    sw.add_argument("--out", type=Path, default=Path("runs"), help="sweep folder (runs/)")
    sw.add_argument("--scheduler", help="address of a running Dask scheduler (default: start a "
                    "local cluster)")
    sw.add_argument("--workers", type=int, help="local cluster: worker processes (default: cores)")
    sw.add_argument("--timeout", type=float, help="seconds one run may take (default: no limit)")
    sw.add_argument("--retries", type=int, default=1, help="retries of a task whose worker failed")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    sw.set_defaults(func=cmd_sweep)
    rep = sub.add_parser("sweep-report", help="mean ± CI across seeds of a sweep's metrics")
    rep.add_argument("table", type=Path, help="sweep folder or its results.parquet")
    rep.add_argument("--x", required=True, help="swept parameter on the x axis")
    rep.add_argument("--metric", action="append", required=True, help="metric column (repeat)")
    rep.add_argument("--confidence", type=float, default=0.95)
    rep.add_argument("--figure", type=Path, help="save the plot here (png, svg, pdf)")
    rep.add_argument("--markdown", action="store_true", help="print a Markdown table (mean ± CI)")
    rep.set_defaults(func=cmd_sweep_report)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError) as e:
        print(f"robustbook: error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
