"""The reproduction dashboard and `robustbook list`, on results records written the way the
runner writes them (``ChapterRun.finish``), in a scratch book folder."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from robustbook.book.claims import Expect, check, finding, unjudged
from robustbook.book.results import ChapterRun
from robustbook.chapters import CHAPTERS, implemented
from robustbook.cli import main
from robustbook.dashboard import render, statuses, write_dashboard


@dataclass
class _Result:
    claims: list
    metrics: dict = field(default_factory=dict)


def _write(root: Path, slug: str, claims, preset: str = "cpu", n_seeds: int = 5) -> dict:
    info = CHAPTERS[slug]
    run = ChapterRun(slug, {"preset": preset, "seed": 0, "n_seeds": n_seeds})
    return run.finish(_Result(claims), root / "book" / "chapters" / f"{info.stem}.results.json")


def _claims(*, surprise: bool = False, check_ok: bool = True) -> list:
    return [
        finding("gain", "SAM beats SGD | under noise", "17% (CIFAR-10, $\\rho$ = 0.01)",
                "+4.1 points", on_mean=True, per_seed=[True] * 5, expect=Expect(True)),
        finding("scale", "the effect grows with width", "Fig. 3", "flat",
                on_mean=surprise, per_seed=[surprise] * 5,
                expect=Expect(False, "our widths are 100x smaller")),
        check("identity", "autodiff equals the closed form", "Eq. 4", "1e-9", check_ok),
    ]


@pytest.fixture
def book(tmp_path) -> Path:
    (tmp_path / "book" / "chapters").mkdir(parents=True)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    return tmp_path


def _row(page: str, number: int) -> str:
    return next(line for line in page.splitlines() if line.startswith(f"| [{number:02d} ·")
                or line.startswith(f"| {number:02d} ·"))


def test_every_chapter_appears_in_its_state(book):
    written = implemented()
    assert len(written) >= 3, "the test needs three written chapters"
    judged, smoke, unreadable = written[0], written[1], written[2]
    _write(book, judged.slug, _claims())
    _write(book, smoke.slug, unjudged(_claims()), preset="smoke", n_seeds=2)
    (book / "book" / "chapters" / f"{unreadable.stem}.results.json").write_text('{"chapter": ')
    page = render(book)
    states = {s.info.slug: s.state for s in statuses(book)}
    assert states[judged.slug] == "judged" and states[smoke.slug] == "smoke"
    assert states[unreadable.slug] == "unreadable"
    assert "1/1 |" in _row(page, judged.number) and "| 1 | 0 | 1/1 |" in _row(page, judged.number)
    assert f"chapters/{judged.stem}.ipynb#paper-vs-this-run" in _row(page, judged.number)
    assert "not judged (smoke preset)" in _row(page, smoke.number)
    assert "results unreadable" in _row(page, unreadable.number)
    for info in CHAPTERS.values():
        row = _row(page, info.number)  # every chapter of the registry has a row
        if info.module is None:
            assert "not written yet" in row and "](chapters/" not in row
        elif info not in (judged, smoke, unreadable):
            assert "not run yet" in row and "](chapters/" not in row  # no page to link to
    # the runs table: preset, seeds, wall time, date, revision of the judged run
    run_row = next(line for line in page.split("## Runs")[1].splitlines() if judged.stem in line)
    assert "`cpu`" in run_row and "5 (0–4)" in run_row
    written_count = f"**{len(written)} of {len(CHAPTERS)} chapters written, 1 judged:**"
    assert written_count in page


def test_unexpected_verdicts_and_failing_checks_are_shown_not_folded(book):
    info = implemented()[0]
    _write(book, info.slug, _claims(surprise=True, check_ok=False))
    page = render(book)
    box = page.split(":::{admonition} ⚠ Unexpected verdicts")[1].split(":::")[0]
    assert "`scale`" in box and "UNEXPECTED: reproduced" in box
    assert "`identity`" in box and "CHECK FAILS" in box
    row = _row(page, info.number)
    assert "**⚠ 1**" in row and "a check FAILS" in row
    assert "1 unexpected verdict(s)" in page
    out = _list(book)
    assert "UNEXPECTED" in out and "!! scale" in out and "identity: ✗ CHECK FAILS" in out


def test_expected_run_has_no_warning_box_and_text_is_escaped(book):
    info = implemented()[0]
    _write(book, info.slug, _claims())
    page = render(book)
    assert "Unexpected verdicts" not in page
    headline = next(line for line in page.split("## Headline number")[1].splitlines() if info.stem in line)
    # the first finding is the headline; '|' and '$' in a claim cannot break the table or start math
    assert "SAM beats SGD \\| under noise" in headline and "\\$\\\\rho\\$" in headline
    assert headline.count(" | ") == 4


def test_dashboard_is_rewritten_only_when_it_changes(book):
    info = implemented()[0]
    path = write_dashboard(book)
    first = path.read_text()
    os.utime(path, (1, 1))
    write_dashboard(book)
    assert path.stat().st_mtime == 1, "an unchanged dashboard must not be rewritten (incremental build)"
    _write(book, info.slug, _claims())
    write_dashboard(book)
    assert path.read_text() != first and path.stat().st_mtime > 1
    assert not list(path.parent.glob(".dashboard.md*")), "no temporary file left behind"


def _list(root: Path) -> str:
    import contextlib
    import io

    cwd = os.getcwd()
    buffer = io.StringIO()
    try:
        os.chdir(root)
        with contextlib.redirect_stdout(buffer):
            assert main(["list"]) == 0
    finally:
        os.chdir(cwd)
    return buffer.getvalue()


def test_robustbook_list_shows_last_verdicts(book):
    info = implemented()[0]
    record = _write(book, info.slug, _claims())
    out = _list(book)
    line = out.split(info.slug, 1)[1].split("\n")[1]
    assert line.strip().startswith("last book run: preset cpu: 1/2 findings reproduced")
    assert "1/1 checks pass" in line and record["env"]["finished_utc"] in line
    for other in implemented()[1:]:
        assert "no results yet" in out.split(other.slug, 1)[1].split("\n")[1]
    for c in CHAPTERS.values():
        if c.module is None:
            assert f"{c.slug}" in out and "(not written yet)" in out.split(c.slug, 1)[1].split("\n")[0]


def test_record_missing_fields_is_reported_not_crashed(book):
    info = implemented()[0]
    path = book / "book" / "chapters" / f"{info.stem}.results.json"
    path.write_text(json.dumps({"chapter": info.slug, "claims": []}))
    (status,) = [s for s in statuses(book) if s.info == info]
    assert status.state == "unreadable" and "KeyError" in status.error and path.name in status.error
    assert "results unreadable" in render(book)
