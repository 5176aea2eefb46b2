"""Rows of the "paper vs. this run" table: *findings* and *checks*, judged one way for every chapter.

- A **finding** is what the paper found: a measurement that can come out either way. It holds when
  its condition holds on the seed mean **and** on at least ``SEED_SHARE`` (80%) of the seeds. Every
  finding carries the verdict pre-registered for preset cpu (``Expect``) before the reported seeds
  ran; the table says *reproduced*, *not reproduced at this scale (expected)* or *unexpected*.
- A **check** is an identity or a sanity condition (autodiff = closed form, exact ties, a frontier
  from published constants). It must pass; it never counts toward a chapter's headline.

At preset ``smoke`` nothing is judged (``holds`` is ``None``): ``unjudged`` masks a whole table once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import pandas as pd

SEED_SHARE = 0.8  # a finding must hold on >= 80% of the seeds (and on the seed mean)
KINDS = ("finding", "check")


@dataclass(frozen=True)
class Expect:
    """A pre-registered verdict at preset cpu: ``holds``, and when it is not True, ``why`` (one line).

    ``Expect.fragile(why, tuned=...)`` registers a finding whose per-seed count sits on the 80% bar
    (on the tuning seeds, or tuning and reported seeds disagreed): either verdict is accepted, the
    table says *fragile*, ``tuned`` records what the tuning seeds gave, and ``post_hoc=True`` says
    openly that the reclassification came after a reported run."""

    holds: bool
    why: str = ""
    either: bool = False      # fragile: either verdict is accepted (``holds`` = the tuning verdict)
    post_hoc: bool = False    # the fragile registration came after a reported run

    def __post_init__(self) -> None:
        if not isinstance(self.holds, bool):
            raise ValueError("a pre-registered verdict is True or False (a fragile finding records "
                             "what its tuning seeds gave: Expect.fragile(why, tuned=...))")
        if (not self.holds or self.either) and not self.why:
            raise ValueError("an expectation that a finding does not hold (or is fragile) needs a "
                             "one-line reason")

    @classmethod
    def fragile(cls, why: str, *, tuned: bool, post_hoc: bool = False) -> Expect:
        """Either verdict accepted; ``tuned``: the verdict the tuning seeds gave."""
        return cls(tuned, why, either=True, post_hoc=post_hoc)


@dataclass(frozen=True)
class Claim:
    """One row of the table. ``seeds = (k, n)``: the finding held on k of n seeds (None: a check).
    ``expected``: the pre-registered verdict of a finding (None for a check). ``holds``: True,
    False, or None when not judged (preset smoke)."""

    id: str
    kind: str
    statement: str
    paper: str
    measured: str
    holds: bool | None
    expected: bool | None = None
    expected_why: str = ""
    seeds: tuple[int, int] | None = None
    fragile: bool = False     # pre-registered as fragile: either verdict is accepted
    post_hoc: bool = False    # ... and that registration came after a reported run (said openly)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "finding" and self.expected is None:
            raise ValueError(f"finding {self.id!r} has no pre-registered expectation")

    @property
    def verdict(self) -> str:
        """What the table shows in its verdict column."""
        if self.holds is None:
            return "not judged (smoke preset)"
        if self.kind == "check":
            return "✓ check passes" if self.holds else "✗ CHECK FAILS"
        if self.fragile:
            return "✓ reproduced (fragile)" if self.holds else "✗ not reproduced (fragile)"
        if self.holds == self.expected:
            return "✓ reproduced" if self.holds else "✗ not reproduced at this scale (expected)"
        return "⚠ UNEXPECTED: reproduced" if self.holds else "⚠ UNEXPECTED: not reproduced"

    @property
    def as_expected(self) -> bool:
        """A finding whose verdict matches its pre-registration (either verdict for a fragile one),
        or a check that passes."""
        if self.kind == "check":
            return self.holds is True
        return self.holds is not None if self.fragile else self.holds == self.expected


def seeds_needed(n: int) -> int:
    """Smallest k with k / n >= SEED_SHARE (4 of 5, 8 of 10, 3 of 3, 2 of 2, 1 of 1)."""
    return math.ceil(SEED_SHARE * n - 1e-9)


def finding(id: str, statement: str, paper: str, measured: str, *, on_mean: bool,
            per_seed: Sequence[bool], expect: Expect) -> Claim:
    """A finding: holds iff ``on_mean`` (the condition on the seed mean) and the condition held on
    at least ``seeds_needed(n)`` of the ``per_seed`` verdicts. ``measured`` gets "k/n seeds"."""
    if len(per_seed) == 0:
        raise ValueError(f"finding {id!r}: per_seed is empty (a finding is judged over seeds)")
    k, n = sum(bool(v) for v in per_seed), len(per_seed)
    holds = bool(on_mean) and k >= seeds_needed(n)
    return Claim(id, "finding", statement, paper, f"{measured} [{k}/{n} seeds]", holds,
                 expected=expect.holds, expected_why=expect.why, seeds=(k, n),
                 fragile=expect.either, post_hoc=expect.post_hoc)


def check(id: str, statement: str, paper: str, measured: str, ok: bool) -> Claim:
    """A check: an identity or sanity condition that must pass."""
    return Claim(id, "check", statement, paper, measured, bool(ok))


def unjudged(claims: Iterable[Claim]) -> list[Claim]:
    """The same rows with ``holds = None`` (preset smoke: the plumbing ran, nothing is judged)."""
    return [replace(c, holds=None) for c in claims]


def counts(claims: Iterable[Claim]) -> dict[str, int]:
    """Headline numbers: findings reproduced / total, expected non-reproductions, unexpected
    verdicts, checks passed / total."""
    claims = list(claims)
    findings = [c for c in claims if c.kind == "finding" and c.holds is not None]
    checks = [c for c in claims if c.kind == "check" and c.holds is not None]
    return {"findings": len(findings), "reproduced": sum(c.holds is True for c in findings),
            "not_reproduced_expected": sum(c.holds is False and c.expected is False and not c.fragile
                                           for c in findings),
            "fragile": sum(c.fragile for c in findings),
            "fragile_post_hoc": sum(c.fragile and c.post_hoc for c in findings),
            "unexpected": sum(not c.as_expected for c in findings),
            "checks": len(checks), "checks_passed": sum(c.holds is True for c in checks)}


def headline(claims: Iterable[Claim]) -> str:
    """One line: '3/4 findings reproduced (1 not at this scale, as pre-registered); 2/2 checks pass'."""
    c = counts(claims)
    if c["findings"] == 0 and c["checks"] == 0:
        return "claims not judged (smoke preset)"
    text = f"{c['reproduced']}/{c['findings']} findings reproduced"
    if c["not_reproduced_expected"]:
        text += f" ({c['not_reproduced_expected']} not at this scale, as pre-registered)"
    if c["fragile"]:
        text += f"; {c['fragile']} pre-registered as fragile"
        if c["fragile_post_hoc"]:
            text += f" ({c['fragile_post_hoc']} of them after a reported run)"
    if c["unexpected"]:
        text += f"; {c['unexpected']} UNEXPECTED verdict(s)"
    return text + f"; {c['checks_passed']}/{c['checks']} checks pass"


def verdict_sentences(claims: Iterable[Claim]) -> str:
    """Markdown, one line per claim, stating *this run's* verdict from the claims themselves — the
    way a chapter's prose talks about the run it sits in (fixed text would go stale when a reader
    runs it with other parameters). Display with ``IPython.display.Markdown``."""
    claims = sorted(claims, key=lambda c: KINDS.index(c.kind))
    lines = [f"**{headline(claims)}.**", ""]
    lines += [f"- `{c.id}` ({c.kind}) — {c.verdict}: {c.measured}" for c in claims]
    return "\n".join(lines)


def from_record(record: dict) -> list[Claim]:
    """The claims of a results JSON record, as ``Claim`` rows again."""
    return [Claim(**{**c, "seeds": tuple(c["seeds"]) if c.get("seeds") else None}) for c in record["claims"]]


def claims_table(claims: Iterable[Claim]) -> pd.DataFrame:
    """The "paper vs. this run" table: findings first, then checks; one row per claim."""
    claims = sorted(claims, key=lambda c: KINDS.index(c.kind))
    rows = [{"kind": c.kind, "claim": c.statement, "paper": c.paper, "this run": c.measured,
             "pre-registered": _expected_text(c), "verdict": c.verdict} for c in claims]
    return pd.DataFrame(rows, index=pd.Index([c.id for c in claims]))


def preregistration_table(expected: dict[str, Expect]) -> pd.DataFrame:
    """The pre-registered verdicts at preset cpu, shown before the run (one row per finding)."""
    def label(e: Expect) -> str:
        if e.either:
            return "fragile: either verdict" + (" (registered after a reported run)" if e.post_hoc else "")
        return "reproduced" if e.holds else "not reproduced"

    return pd.DataFrame([{"expected at preset cpu": label(e), "reason": e.why} for e in expected.values()],
                        index=pd.Index(list(expected)))


def _expected_text(c: Claim) -> str:
    if c.kind == "check":
        return "must pass"
    if c.fragile:
        after = " (registered after a reported run)" if c.post_hoc else ""
        return f"fragile, either verdict{after}: {c.expected_why}"
    return "reproduced" if c.expected else f"not reproduced: {c.expected_why}"
