"""Shared fixtures. Chapter notebooks run at preset cpu at most once per test session (and are
reused across sessions and by `make book` while notebook, parameters and library are unchanged):
``executed_chapter`` goes through the runner's content-hash cache under a file lock, so two
pytest-xdist workers asking for the same chapter wait for one execution."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from filelock import FileLock

from robustbook.chapters import get_chapter
from robustbook.runner import execute_chapter, project_root

ROOT = project_root(Path(__file__).parent)
BOOK_CHAPTERS = ROOT / "book" / "chapters"


def executed_chapter(slug: str) -> dict:
    """The results record of ``slug`` executed at its default parameters (preset cpu) into
    book/chapters/, executing it only if no matching finished run exists."""
    info = get_chapter(slug)
    BOOK_CHAPTERS.mkdir(parents=True, exist_ok=True)
    with FileLock(str(BOOK_CHAPTERS / f".{info.stem}.lock")):
        outcome = execute_chapter(slug, {}, BOOK_CHAPTERS, root=ROOT)
    assert outcome.ok, outcome.error
    return json.loads(outcome.results.read_text())


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture
def in_ci() -> bool:
    return os.environ.get("CI") == "1"
