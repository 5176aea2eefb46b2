"""Sphinx extension of the book (loaded by _config.yml's ``local_extensions``).

- Writes the reproduction dashboard (book/dashboard.md) from the chapters' results JSON before
  the table of contents is read, so any ``jupyter-book build`` of the checkout has it (the file is
  rewritten only when its text changes: an unchanged dashboard is not rebuilt).
- Opens each chapter page with a box: the paper's full citation (from book/references.bib, so
  search finds the chapter by its paper's title) and how to run the chapter (the exact
  ``robustbook run`` and papermill commands, the presets and the last book run's wall time).
- Keeps every page free of console errors when opened from disk: the theme's colour mode
  defaults to "auto" (an empty mode is reported as an error on a fresh browser profile), and a
  script registered twice (sphinx-thebe's inline configuration, ``const THEBE_JS_URL``) is
  emitted once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes

CHAPTER_DOC = re.compile(r"book/chapters/(\d\d)_(.+)")


def _dashboard_is_current(srcdir: Path) -> bool:
    """True when book/dashboard.md is newer than everything it is made from (the results JSON,
    the chapter registry, the verdict rules, the generator): the build then skips importing the
    library (seconds), which keeps a warm build fast."""
    import robustbook

    page = srcdir / "book" / "dashboard.md"
    if not page.is_file():
        return False
    lib = Path(robustbook.__file__).parent
    chapters = srcdir / "book" / "chapters"  # the folder itself: a deleted record changes its mtime
    inputs = [chapters, *chapters.glob("*.results.json"), srcdir / "book" / "scale.md",
              lib / "chapters" / "__init__.py", lib / "book" / "claims.py", lib / "dashboard.py"]
    built = page.stat().st_mtime
    return all(p.stat().st_mtime <= built for p in inputs if p.exists())


def _write_dashboard(app, config) -> None:
    srcdir = Path(app.srcdir)
    if _dashboard_is_current(srcdir):
        return
    from robustbook.dashboard import write_dashboard

    path = write_dashboard(srcdir)
    path.touch()  # written or confirmed unchanged: current as of now


def _theme_mode(app, config) -> None:
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")  # pydata-sphinx-theme reads it from html_context
    config.html_context = context


def _unique_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts, seen = context.get("script_files"), set()
    if not scripts:
        return
    unique = []
    for script in scripts:
        # the same file or inline body registered twice (at two priorities) is one script
        key = (str(getattr(script, "filename", script) or ""),  # None and "" both mean inline
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: handlers that run later (MathJax) append to this list


def _citation(srcdir: Path, bibkey: str) -> tuple[str, str, str]:
    """(title, authors, venue and year) of ``bibkey`` in book/references.bib."""
    from pybtex.database import parse_file

    entry = parse_file(str(srcdir / "book" / "references.bib")).entries[bibkey]
    clean = lambda text: re.sub(r"[{}]", "", text).replace("--", "–")  # noqa: E731
    people = entry.persons.get("author", [])
    names = [clean(" ".join(p.last_names)) for p in people]
    authors = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)
    f = entry.fields
    venue = clean(f.get("booktitle") or f.get("journal") or f.get("publisher") or "")
    return clean(f["title"]), authors, ", ".join(x for x in (venue, f.get("year", "")) if x)


def _paper_box(app, doctree) -> None:
    match = CHAPTER_DOC.fullmatch(app.env.docname)
    if not match:
        return
    from robustbook.chapters import CHAPTERS

    info = CHAPTERS.get(match.group(2))
    section = next(iter(doctree.findall(nodes.section)), None)
    if info is None or section is None:
        return
    srcdir = Path(app.srcdir)
    title, authors, venue = _citation(srcdir, info.bibkey)
    box = nodes.admonition(classes=["tip", "robustbook-paper"])
    box += nodes.title(text="The paper, and how to run this chapter")
    cite = nodes.paragraph()
    cite += nodes.emphasis(text=title)
    cite += nodes.Text(f". {authors}. {venue}. ")
    cite += nodes.reference(text=f"arXiv:{info.arxiv}", refuri=f"https://arxiv.org/abs/{info.arxiv}")
    box += cite
    results = srcdir / "book" / "chapters" / f"{info.stem}.results.json"
    try:
        record = json.loads(results.read_text())
        last = (f"this page shows a run at preset {record['params']['preset']} that took "
                f"{record['wall_s']:.0f} s")
    except (OSError, ValueError, KeyError):
        last = "this page's run left no results record"
    run = nodes.paragraph()
    run += nodes.Text(f"Presets: smoke (seconds, nothing judged), cpu (the default; {last}), paper "
                      "(the paper's data and models, on a GPU: see ")
    run += nodes.reference(text="installation", refuri="../install.html")
    run += nodes.Text("). Every parameter and its meaning: the first code cell below.")
    box += run
    commands = "\n".join((
        "# preset cpu, into results/ (add -p preset smoke for a seconds-long plumbing check)",
        f".venv/bin/robustbook run {info.slug}",
        f".venv/bin/robustbook run {info.slug} -p preset paper -p data_dir /data -p device cuda",
        f".venv/bin/papermill notebooks/{info.stem}.ipynb out.ipynb -p preset cpu -p seed 1",
    ))
    box += nodes.literal_block(commands, commands, language="bash")
    title_index = next((i for i, child in enumerate(section.children) if isinstance(child, nodes.title)), -1)
    section.insert(title_index + 1, box)


def setup(app):
    app.connect("config-inited", _write_dashboard, priority=100)  # before sphinx-external-toc (900)
    app.connect("config-inited", _theme_mode)
    app.connect("doctree-read", _paper_box)
    app.connect("html-page-context", _unique_scripts, priority=100)  # before any handler that returns
    return {"parallel_read_safe": True, "parallel_write_safe": True}
