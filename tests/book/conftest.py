"""The built book, shared by the book tests (one jupyter-book build per test session and worker)."""

import os
from pathlib import Path

import pytest

from robustbook.chapters import implemented
from robustbook.runner import build_book
from tests.conftest import executed_chapter


@pytest.fixture(scope="session")
def built_book(root, tmp_path_factory) -> Path:
    chapters = implemented()
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0":
        chapters = chapters[::-1]  # the other worker starts from the other end: no waiting on locks
    for c in chapters:
        executed_chapter(c.slug)  # cached: the claims tests' (or the other worker's) execution is reused
    out = tmp_path_factory.mktemp("book")
    proc = build_book(root, out, capture=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return out / "_build" / "html"
