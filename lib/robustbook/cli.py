"""The ``robustbook`` command: run one chapter, build the book, list chapters and results.

    robustbook run sam-label-noise -p label_noise_rate 0.4 -p seed 3
    robustbook book [--jobs 2] [--no-build]
    robustbook list
    robustbook sync-params     # notebooks' parameters cells from the chapters' Config
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
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError) as e:
        print(f"robustbook: error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
