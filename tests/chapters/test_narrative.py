"""Prose that follows the run (issue: text that follows the run). Every chapter states this run's
verdicts only in generated text (`robustbook.book.narrative`): a "What this run shows" cell whose
sentences carry verdict tags that must agree with the claims of the same run. Fixed markdown may
talk about the paper, the method and the pre-registration history (cells tagged ``history``), but
a lint fails on fixed text asserting a verdict about this run."""

import dataclasses
import importlib
import json
import re

import pytest

from robustbook.book.claims import from_record
from robustbook.book.narrative import disagreements, findings_story, shown_markdown, tags_in
from robustbook.chapters import implemented
from tests.conftest import BOOK_CHAPTERS, executed_chapter

CHAPTERS = [pytest.param(c, id=c.slug, marks=pytest.mark.xdist_group(c.slug)) for c in implemented()]
HEADING = "## What this run shows"

VERDICT = re.compile(r"\b(holds?|held(?!-out)|does not hold|did not hold|reproduc(?:es|ed)|not reproduced|fails?|failed"
                     r"|beats?)\b", re.I)
ABOUT_THE_RUN = re.compile(r"\b(this run|the default run|the reported run|the run shown|the run above"
                           r"|reported seeds?)\b", re.I)
# definitions of the verdict rule and open questions are not verdicts
NOT_A_VERDICT = re.compile(r"\b(holds|reproduced|hold) when\b|\bwhether\b|\bhold on the seed mean\b", re.I)
CODE_OR_QUOTE = re.compile(r"`[^`]*`|\"[^\"]*\"")


def fixed_verdicts(cells: list[dict], claim_ids: set[str]) -> list[str]:
    """Sentences of markdown cells (not tagged ``history``) that state a verdict about this run:
    a verdict word outside code and quotes, next to a claim id or a phrase naming the run."""
    found = []
    for cell in cells:
        if cell["cell_type"] != "markdown" or "history" in cell.get("metadata", {}).get("tags", []):
            continue
        text = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith("#"))
        for sentence in re.split(r"(?<=[.!?:])\s+", text):
            bare = CODE_OR_QUOTE.sub("", sentence)
            if not VERDICT.search(bare) or NOT_A_VERDICT.search(bare):
                continue
            if ABOUT_THE_RUN.search(bare) or any(f"`{i}`" in sentence for i in claim_ids):
                found.append(" ".join(sentence.split()))
    return found


def test_lint_flags_fixed_verdicts_about_this_run_and_spares_definitions():
    def cell(text, tags=()):
        return {"cell_type": "markdown", "source": [text], "metadata": {"tags": list(tags)}}
    bad = [cell("## Paper vs. this run\n\nIn this run SAM beats SGD by 8 points."),
           cell("The finding `gain` holds on 5 of 5 seeds."),
           cell("On the reported seeds it held on 2 of 5.")]
    assert fixed_verdicts(bad, {"gain"}) == ["In this run SAM beats SGD by 8 points.",
                                            "The finding `gain` holds on 5 of 5 seeds.",
                                            "On the reported seeds it held on 2 of 5."]
    fine = [cell("## Paper vs. this run\n\nA finding holds when its condition holds on the seed mean."),
            cell("The table says whether `gain` held in this run."),
            cell("The paper finds that SAM beats SGD by 10 points."),
            cell("The finding `st-fails-at-every-scale` measures \"self-training fails\" in this run."),
            cell("On the tuning seeds and the reported seeds it held on 2 of 5.", tags=["history"])]
    assert fixed_verdicts(fine, {"gain", "st-fails-at-every-scale"}) == []


def _cells(root, info):
    return json.loads((root / "notebooks" / f"{info.stem}.ipynb").read_text())["cells"]


@pytest.mark.parametrize("info", CHAPTERS)
def test_no_fixed_verdict_about_this_run_in_markdown(root, info):
    cells = _cells(root, info)
    assert fixed_verdicts(cells, set(info.load().EXPECTED)) == []
    for cell in cells:  # history cells are about the pre-registration record, nothing else
        if "history" in cell.get("metadata", {}).get("tags", []):
            assert "tuning seed" in "".join(cell["source"]), "a history cell tells the pre-registration record"


def _story_cell(cells) -> int:
    heading = next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith(HEADING))
    story = heading + 1
    assert cells[story]["cell_type"] == "code" and "markdown(" in "".join(cells[story]["source"])
    assert "remove-input" in cells[story]["metadata"].get("tags", [])  # the book shows the prose only
    return story


@pytest.mark.parametrize("info", CHAPTERS)
def test_every_chapter_writes_what_this_run_shows_before_its_claims_table(root, info):
    cells = _cells(root, info)
    story = _story_cell(cells)
    table = next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith("## Paper vs. this run"))
    assert story < table


def _narrate(info):
    try:
        return importlib.import_module(f"{info.module}.narrative").what_this_run_shows
    except ModuleNotFoundError:
        return lambda claims, metrics: findings_story(claims)


@pytest.mark.chapter
@pytest.mark.parametrize("info", CHAPTERS)
def test_the_executed_chapters_prose_agrees_with_its_claims_and_follows_them(info):
    record = executed_chapter(info.slug)
    claims = from_record(record)
    findings = {c.id for c in claims if c.kind == "finding"}
    executed = json.loads((BOOK_CHAPTERS / f"{info.stem}.ipynb").read_text())["cells"]
    shown = shown_markdown([executed[_story_cell(executed)]])
    assert disagreements(shown, claims) == []
    assert findings <= {t["id"] for t in tags_in(shown)}, "every finding has a sentence"
    # the same narrative on the opposite verdicts: every finding's sentence and tag change with them
    flipped = [dataclasses.replace(c, holds=not c.holds) if c.kind == "finding" else c for c in claims]
    text = "\n".join(_narrate(info)(flipped, record["metrics"]))
    assert disagreements(text, flipped) == []
    assert len(disagreements(text, claims)) >= len(findings)
