"""Prose that follows the run it sits in.

A chapter's discussion of *this run* is generated in a code cell from the run's own claims and
metrics, so a reader who runs the chapter with another seed or preset reads sentences that agree
with the claims table below them. Prose about the *paper* stays in markdown cells.

Each verdict sentence comes from :func:`say`, which picks the sentence written for the verdict the
run reached and ends it with a tag naming the claim and its verdict (``[`id`: ✓ reproduced, 4/5
seeds]``); tests parse those tags to check that the text and the table agree. Display the parts with
:func:`markdown` (an ``IPython.display.Markdown`` that renders in JupyterLab and in the book)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from robustbook.book.claims import Claim

SEEDS_SUFFIX = re.compile(r" \[\d+/\d+ seeds\]$")
TAG = re.compile(r"\[`(?P<id>[\w.-]+)`: (?P<verdict>[^,\]]+)(?:, (?P<k>\d+)/(?P<n>\d+) seeds)?\]")


def claim_by_id(claims: Iterable[Claim], claim_id: str) -> Claim:
    """The claim called ``claim_id``; a clear error naming the ids there are."""
    claims = list(claims)
    for c in claims:
        if c.id == claim_id:
            return c
    raise KeyError(f"no claim {claim_id!r} in this run (claims: {[c.id for c in claims]})")


def tag(c: Claim) -> str:
    """The verdict tag ending every generated verdict sentence: ``[`id`: verdict, k/n seeds]``."""
    seeds = f", {c.seeds[0]}/{c.seeds[1]} seeds" if c.seeds else ""
    return f"[`{c.id}`: {c.verdict}{seeds}]"


def say(claims: Iterable[Claim], claim_id: str, holds: str, fails: str,
        unjudged: str | None = None, **values: Any) -> str:
    """The sentence for the verdict this run reached on ``claim_id``: ``holds`` if the claim held,
    ``fails`` if not, ``unjudged`` at preset smoke (default: says so). Each may use ``{measured}``,
    ``{k}``, ``{n}`` and any keyword in ``values`` (numbers from the run's metrics), and ends with
    the claim's verdict tag."""
    c = claim_by_id(claims, claim_id)
    if c.holds is None:
        text = unjudged if unjudged is not None else f"The run's `{c.id}` claim is not judged at this preset."
    else:
        text = holds if c.holds else fails
    k, n = c.seeds if c.seeds else (None, None)
    measured = SEEDS_SUFFIX.sub("", c.measured)  # the tag says k/n already
    return f"{text.format(measured=measured, k=k, n=n, **values).rstrip()} {tag(c)}"


def tags_in(text: str) -> list[dict[str, str]]:
    """The verdict tags in generated text (id, verdict, k, n), in order."""
    return [m.groupdict() for m in TAG.finditer(text)]


def disagreements(text: str, claims: Iterable[Claim]) -> list[str]:
    """Where generated text's verdict tags disagree with ``claims`` (empty when they agree)."""
    by_id = {c.id: c for c in claims}
    wrong = []
    for t in tags_in(text):
        c = by_id.get(t["id"])
        if c is None:
            wrong.append(f"{t['id']}: not a claim of this run")
        elif tag(c) != f"[`{t['id']}`: {t['verdict']}" + (f", {t['k']}/{t['n']} seeds]" if t["k"] else "]"):
            wrong.append(f"{t['id']}: text says {t['verdict']!r}, table says {c.verdict!r}")
    return wrong


def markdown(*paragraphs: str | Iterable[str]):
    """Paragraphs (a string, or an iterable of strings joined as bullet points) as one Markdown
    display object."""
    from IPython.display import Markdown

    parts = []
    for p in paragraphs:
        parts.append(p if isinstance(p, str) else "\n".join(f"* {line}" for line in p))
    return Markdown("\n\n".join(parts))


def fmt(metrics: Mapping[str, Any], key: str, spec: str = ".2f") -> str:
    """A metric formatted for prose; a clear error if the run did not record it."""
    if key not in metrics:
        raise KeyError(f"metric {key!r} not recorded by this run (metrics: {sorted(metrics)[:20]} ...)")
    return format(metrics[key], spec)


def findings_story(claims: Iterable[Claim]) -> list[str]:
    """One sentence per finding built from its own statement, for chapters whose findings read well
    as they are: "<statement> (<measured>)." when it held, "*Not in this run* — <statement> ..." when
    it did not. Each ends with the verdict tag."""
    lines = []
    for c in claims:
        if c.kind != "finding":
            continue
        statement = c.statement.rstrip(".").replace("{", "{{").replace("}", "}}")
        lines.append(say([c], c.id, f"{statement} ({{measured}}).",
                         f"*Not in this run* — {statement} ({{measured}})."))
    return lines


def shown_markdown(cells: Iterable[Mapping[str, Any]]) -> str:
    """The generated Markdown an executed notebook's ``cells`` display (nbformat may store a
    multi-line output as a list of lines), joined: what a reader of the run sees as prose."""
    texts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/markdown")
            if text is not None:
                texts.append(text if isinstance(text, str) else "".join(text))
    return "\n".join(texts)
