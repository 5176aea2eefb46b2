"""The reproduction dashboard: one row per chapter, generated from the results JSON records the
runner wrote into ``book/chapters/`` (``<stem>.results.json``), before every book build.

Application layer: it reads the chapter registry and the records; the chapter kit
(``robustbook.book``) never imports chapters. ``write_dashboard`` rewrites ``book/dashboard.md``
only when its text changes, so an unchanged dashboard costs the incremental build nothing.

Every chapter appears: not written yet, written but not run, run at preset ``smoke`` (nothing
judged), or judged. A finding whose verdict differs from its pre-registration, or a failing check,
is listed in a warning box at the top of the page and marked in its row, never folded into a total.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from robustbook.book.claims import Claim, counts, from_record, headline
from robustbook.chapters import CHAPTERS, ChapterInfo

PAGE = Path("book") / "dashboard.md"
CHAPTERS_DIR = Path("book") / "chapters"
CLAIMS_ANCHOR = "paper-vs-this-run"  # the "## Paper vs. this run" heading every chapter ends with
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|$#~])")


@dataclass(frozen=True)
class ChapterStatus:
    """What the book knows about one chapter's last run. ``state``: ``not written``,
    ``not run``, ``unreadable``, ``smoke`` or ``judged``."""

    info: ChapterInfo
    state: str
    record: dict | None = None
    error: str = ""

    @property
    def claims(self) -> list[Claim]:
        return from_record(self.record) if self.record else []

    @property
    def counts(self) -> dict[str, int]:
        return counts(self.claims)

    @property
    def problems(self) -> list[Claim]:
        """Findings with an unexpected verdict and checks that fail."""
        return [c for c in self.claims if c.holds is not None and not c.as_expected]

    @property
    def headline_claim(self) -> Claim | None:
        """The chapter's headline number: its first finding (tables list findings first)."""
        claims = self.claims
        return next((c for c in claims if c.kind == "finding"), claims[0] if claims else None)


def chapter_status(info: ChapterInfo, chapters_dir: Path) -> ChapterStatus:
    if info.module is None:
        return ChapterStatus(info, "not written")
    path = chapters_dir / f"{info.stem}.results.json"
    if not path.is_file():
        return ChapterStatus(info, "not run")
    try:
        record = json.loads(path.read_text())
        claims = from_record(record)
        for key in ("params", "env", "wall_s"):
            record[key]  # noqa: B018 - a record without them is unreadable, said so below
    except (OSError, ValueError, KeyError, TypeError) as e:
        return ChapterStatus(info, "unreadable", error=f"{path.name}: {type(e).__name__}: {e}")
    judged = any(c.holds is not None for c in claims)
    return ChapterStatus(info, "judged" if judged else "smoke", record)


def statuses(root: Path) -> list[ChapterStatus]:
    """Every chapter of the registry, in book order."""
    chapters_dir = Path(root) / CHAPTERS_DIR
    return [chapter_status(c, chapters_dir) for c in sorted(CHAPTERS.values(), key=lambda c: c.number)]


def last_run_line(status: ChapterStatus) -> str:
    """One line for ``robustbook list``: preset, verdict headline, wall time, date."""
    if status.state == "not written":
        return "not written yet"
    if status.state == "not run":
        return "no results yet (robustbook book)"
    if status.state == "unreadable":
        return f"results unreadable: {status.error}"
    r = status.record
    line = (f"preset {r['params'].get('preset')}: {headline(status.claims)}, "
            f"{r['wall_s']:.0f} s, {r['env'].get('finished_utc', '?')}")
    problems = status.problems
    if problems:
        line += "\n    !! " + "; ".join(f"{c.id}: {c.verdict}" for c in problems)
    return line


def _md(text: object) -> str:
    """Plain text in a Markdown table cell: special characters escaped, one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _revision(env: dict) -> str:
    git = env.get("git") or "unknown"
    sha, _, dirty = git.partition("+")
    return sha[:10] + (" (uncommitted changes)" if dirty else "")


def _seeds(status: ChapterStatus) -> str:
    params = status.record["params"]
    ns = {c.seeds[1] for c in status.claims if c.seeds}
    n = params.get("n_seeds") or (max(ns) if ns else None)
    first = params.get("seed", 0)
    return f"{n} ({first}–{first + n - 1})" if isinstance(n, int) else "—"


def _chapter_link(status: ChapterStatus, anchor: str = "") -> str:
    info = status.info
    label = f"{info.number:02d} · {_md(info.title)}"
    if status.state in ("not written", "not run"):
        return label  # no page yet
    return f"[{label}](chapters/{info.stem}.ipynb{'#' + anchor if anchor else ''})"


def _verdict_cells(status: ChapterStatus) -> list[str]:
    if status.state == "not written":
        return ["*not written yet*", "", "", ""]
    if status.state == "not run":
        return ["*not run yet*", "", "", ""]
    if status.state == "unreadable":
        return [f"**results unreadable** ({_md(status.error)})", "", "", ""]
    if status.state == "smoke":
        return ["not judged (smoke preset)", "", "", ""]
    c = status.counts
    unexpected = c["unexpected"]
    checks = f"{c['checks_passed']}/{c['checks']}"
    if c["checks_passed"] < c["checks"]:
        checks = f"**⚠ {checks} (a check FAILS)**"
    return [f"{c['reproduced']}/{c['findings']}", str(c["not_reproduced_expected"]),
            f"**⚠ {unexpected}**" if unexpected else "0", checks]


def render(root: Path) -> str:
    """The dashboard page (MyST Markdown)."""
    rows = statuses(root)
    written = [s for s in rows if s.state != "not written"]
    judged = [s for s in rows if s.state == "judged"]
    totals = {k: sum(s.counts[k] for s in judged) for k in
              ("findings", "reproduced", "not_reproduced_expected", "unexpected", "checks", "checks_passed")}
    problems = [(s, c) for s in judged for c in s.problems]
    unreadable = [s for s in rows if s.state == "unreadable"]
    ran = [s for s in rows if s.state in ("judged", "smoke")]
    lines = [
        "# Reproduction dashboard", "",
        "Every chapter's last run, read from the results JSON written next to its executed notebook "
        "(generated when the book is built; `robustbook list` prints the same verdicts). A finding is "
        "*reproduced* when it holds on the seed mean and on at least 80% of the seeds; each finding's "
        "verdict was pre-registered before the reported seeds ran ([how to read a chapter's "
        "table](intro.md)).", "",
        f"**{len(written)} of {len(rows)} chapters written, {len(judged)} judged:** "
        f"{totals['reproduced']}/{totals['findings']} findings reproduced "
        f"({totals['not_reproduced_expected']} not at this scale, as pre-registered), "
        f"{totals['unexpected']} unexpected verdict(s), "
        f"{totals['checks_passed']}/{totals['checks']} checks pass.", "",
    ]
    if problems or unreadable:
        lines += [":::{admonition} ⚠ Unexpected verdicts", ":class: danger", ""]
        lines += [f"- {_chapter_link(s, CLAIMS_ANCHOR)}: `{c.id}`: **{_md(c.verdict)}** — "
                  f"{_md(c.statement)} (this run: {_md(c.measured)})" for s, c in problems]
        lines += [f"- {_chapter_link(s)}: results unreadable ({_md(s.error)})" for s in unreadable]
        lines += [":::", ""]
    lines += [
        "## Verdicts", "",
        "| chapter | findings reproduced | not reproduced at this scale (expected) | unexpected | "
        "checks pass |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {_chapter_link(s, CLAIMS_ANCHOR)} | " + " | ".join(_verdict_cells(s)) + " |" for s in rows]
    lines += ["", "## Headline number: paper vs. this run", "",
              "Each chapter's first finding, as its table states it.", "",
              "| chapter | claim | paper | this run | verdict |", "|---|---|---|---|---|"]
    for s in ran:
        c = s.headline_claim
        if c is not None:
            verdict = f"**{_md(c.verdict)}**" if c.holds is not None and not c.as_expected else _md(c.verdict)
            lines.append(f"| {_chapter_link(s, CLAIMS_ANCHOR)} | {_md(c.statement)} | {_md(c.paper)} | "
                         f"{_md(c.measured)} | {verdict} |")
    lines += ["", "## Runs", "",
              "| chapter | preset | seeds | wall time | finished (UTC) | library revision |",
              "|---|---|---|---|---|---|"]
    for s in ran:
        r = s.record
        lines.append(f"| {_chapter_link(s)} | `{r['params'].get('preset')}` | {_seeds(s)} | "
                     f"{r['wall_s']:.0f} s | {_md(r['env'].get('finished_utc', '?'))} | "
                     f"`{_revision(r['env'])}` |")
    lines += ["", "Run a chapter yourself, at any preset: [installation](install.md)."]
    if (Path(root) / "book" / "scale.md").is_file():
        lines[-1] += " Many seeds or a grid of parameters: [running at scale](scale.md)."
    return "\n".join(lines) + "\n"


def write_dashboard(root: Path) -> Path:
    """Write ``book/dashboard.md`` under ``root`` (only when its text changed: Sphinx then keeps
    the page's previous build)."""
    path = Path(root) / PAGE
    text = render(root)
    if not path.is_file() or path.read_text() != text:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path
