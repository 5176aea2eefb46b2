"""The built book, shared by the book tests (one jupyter-book build per test session and worker)."""

from pathlib import Path

import pytest

from robustbook.chapters import implemented
from robustbook.runner import build_book
from tests.conftest import executed_chapter


@pytest.fixture(scope="session")
def built_book(root, tmp_path_factory) -> Path:
    for c in implemented():
        executed_chapter(c.slug)  # cached: the claims tests' execution is reused
    out = tmp_path_factory.mktemp("book")
    proc = build_book(root, out, capture=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return out / "_build" / "html"
