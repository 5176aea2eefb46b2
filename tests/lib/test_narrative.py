"""Generated prose (robustbook.book.narrative): the sentence follows the verdict, the tag names it,
and a disagreement between text and table is found."""

import pytest

from robustbook.book.claims import Claim
from robustbook.book.narrative import (
    claim_by_id,
    disagreements,
    findings_story,
    fmt,
    markdown,
    say,
    shown_markdown,
    tag,
    tags_in,
)


def _claims(holds=True):
    return [Claim("gain", "finding", "SAM beats SGD", "p", "gain +7.9 points [4/5 seeds]", holds, expected=True,
                  seeds=(4, 5) if holds else (2, 5)),
            Claim("neg", "finding", "Echo beats classical {sic}", "p", "0.39 vs 0.97 [0/5 seeds]", False,
                  expected=False, expected_why="tiny model", seeds=(0, 5)),
            Claim("ident", "check", "autodiff = closed form", "", "gap 1e-13", True)]


def test_say_picks_the_sentence_of_the_verdict_and_tags_it():
    held = say(_claims(True), "gain", "SAM wins ({measured}, {k} of {n}).", "SAM does not win ({measured}).")
    assert held == "SAM wins (gain +7.9 points, 4 of 5). [`gain`: ✓ reproduced, 4/5 seeds]"
    lost = say(_claims(False), "gain", "SAM wins.", "SAM does not win ({measured}); x = {x}.", x="0.5")
    assert lost == "SAM does not win (gain +7.9 points); x = 0.5. [`gain`: ⚠ UNEXPECTED: not reproduced, 2/5 seeds]"
    unjudged = [Claim("gain", "finding", "s", "p", "m", None, expected=True, seeds=(0, 1))]
    assert say(unjudged, "gain", "a", "b").startswith("The run's `gain` claim is not judged")
    assert say(unjudged, "gain", "a", "b", unjudged="Smoke.") == "Smoke. [`gain`: not judged (smoke preset), 0/1 seeds]"
    assert say(_claims(), "ident", "ok", "bad") == "ok [`ident`: ✓ check passes]"
    with pytest.raises(KeyError, match=r"no claim 'nope' in this run \(claims: \['gain', 'neg', 'ident'\]\)"):
        say(_claims(), "nope", "a", "b")
    with pytest.raises(KeyError, match="'missing'"):
        say(_claims(), "gain", "{missing}", "b")


def test_tags_parse_back_and_disagreements_are_found():
    text = say(_claims(True), "gain", "a", "b") + "\n" + say(_claims(), "ident", "c", "d")
    assert tags_in(text) == [{"id": "gain", "verdict": "✓ reproduced", "k": "4", "n": "5"},
                             {"id": "ident", "verdict": "✓ check passes", "k": None, "n": None}]
    assert disagreements(text, _claims(True)) == []
    wrong = disagreements(text, _claims(False))  # the text of one run against another run's table
    assert wrong == ["gain: text says '✓ reproduced', table says '⚠ UNEXPECTED: not reproduced'"]
    assert disagreements("[`zzz`: ✓ reproduced]", _claims()) == ["zzz: not a claim of this run"]
    assert tag(claim_by_id(_claims(), "neg")) == "[`neg`: ✗ not reproduced at this scale (expected), 0/5 seeds]"


def test_findings_story_has_one_tagged_sentence_per_finding_and_escapes_braces():
    lines = findings_story(_claims(True))
    assert lines == ["SAM beats SGD (gain +7.9 points). [`gain`: ✓ reproduced, 4/5 seeds]",
                     "*Not in this run* — Echo beats classical {sic} (0.39 vs 0.97). "
                     "[`neg`: ✗ not reproduced at this scale (expected), 0/5 seeds]"]


def test_markdown_joins_paragraphs_and_bullets_and_fmt_names_missing_metrics():
    shown = markdown("Intro.", ["one", "two"])
    assert shown.data == "Intro.\n\n* one\n* two"
    assert fmt({"acc": 0.8312}, "acc", ".1%") == "83.1%"
    with pytest.raises(KeyError, match="metric 'loss' not recorded by this run"):
        fmt({"acc": 0.8}, "loss")


def test_shown_markdown_reads_outputs_stored_as_strings_or_lines():
    cells = [{"cell_type": "markdown", "source": ["x"]},
             {"cell_type": "code", "outputs": [{"data": {"text/markdown": ["a\n", "b"]}},
                                               {"data": {"text/plain": ["c"]}}]},
             {"cell_type": "code", "outputs": [{"data": {"text/markdown": "d"}}]}]
    assert shown_markdown(cells) == "a\nb\nd"
