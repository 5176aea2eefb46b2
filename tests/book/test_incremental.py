"""`make book` stays incremental: editing a chapter's prose reuses its finished run (the new text
is copied into the executed notebook), editing its code or cell structure runs it again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from robustbook.chapters import get_chapter
from robustbook.runner import execute_chapter, run_key

SLUG = "sam-label-noise"


def _edit(notebook: Path, cell_type: str, text: str) -> None:
    nb = json.loads(notebook.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == cell_type
                and "parameters" not in c.get("metadata", {}).get("tags", []))
    cell["source"] = text + "\n" + "".join(cell["source"])
    notebook.write_text(json.dumps(nb, indent=1))


def _copy_book(root: Path, tmp: Path) -> Path:
    stem = get_chapter(SLUG).stem
    (tmp / "notebooks").mkdir()
    shutil.copy(root / "notebooks" / f"{stem}.ipynb", tmp / "notebooks")
    shutil.copy(root / "_toc.yml", tmp)
    return tmp / "notebooks" / f"{stem}.ipynb"


def test_run_key_ignores_prose_not_code(root, tmp_path):
    info = get_chapter(SLUG)
    source = _copy_book(root, tmp_path)
    before = run_key(source, {}, info.module)
    _edit(source, "markdown", "A clearer sentence.")
    assert run_key(source, {}, info.module) == before
    _edit(source, "code", "x = 1")
    assert run_key(source, {}, info.module) != before


def test_prose_edit_reuses_the_run_and_shows_the_new_text(root, tmp_path):
    book_root, out = tmp_path / "src", tmp_path / "out"
    book_root.mkdir()
    source = _copy_book(root, book_root)
    first = execute_chapter(SLUG, {"preset": "smoke"}, out, root=book_root)
    assert first.ok and not first.cached, first.error
    results_before = first.results.read_bytes()
    _edit(source, "markdown", "**A sentence added after the run.**")
    again = execute_chapter(SLUG, {"preset": "smoke"}, out, root=book_root)
    assert again.ok and again.cached, "a prose edit must not execute the chapter again"
    executed = json.loads(again.notebook.read_text())
    texts = ["".join(c["source"]) for c in executed["cells"] if c["cell_type"] == "markdown"]
    assert any("A sentence added after the run." in t for t in texts)
    assert any(c.get("outputs") for c in executed["cells"] if c["cell_type"] == "code"), "outputs kept"
    assert again.results.read_bytes() == results_before
    assert not list(out.glob(".*.tmp")), "no temporary file left behind"
