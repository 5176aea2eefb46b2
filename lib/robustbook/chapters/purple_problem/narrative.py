"""Chapter 04's "what this run shows": one sentence per claim, chosen by this run's verdict."""

from __future__ import annotations

from robustbook.book.claims import Claim
from robustbook.book.narrative import say


def what_this_run_shows(claims: list[Claim], metrics: dict | None = None) -> list[str]:
    """One sentence per claim (shown as bullet points), each ending with its verdict tag."""
    lines = [
        say(claims, "gcg-restores-purple",
            "GCG restored purple on the defended model: {measured}.",
            "GCG did not restore purple on enough held-out questions at this budget: {measured}."),
        say(claims, "dpo-suppresses-purple",
            "On clean prompts the defense works: {measured}.",
            "The defense did not suppress purple cleanly on every seed: {measured}."),
        say(claims, "dpo-keeps-benign",
            "Benign answers survived the defense: {measured}.",
            "The defense cost benign answers on some seeds: {measured}. At this scale the direction "
            "that removes purple is entangled with colour answers in general."),
        say(claims, "ppl-filter-blocks-gcg",
            "The perplexity filter rejects plain GCG prompts: {measured}.",
            "The perplexity filter let many plain GCG prompts through: {measured}."),
        say(claims, "ppl-filter-evaded",
            "The adaptive attack got past the perplexity filter: {measured}.",
            "The adaptive attack did not get past the perplexity filter at this scale: {measured}. The "
            "clean prompts of a tiny synthetic language are so predictable that the threshold leaves "
            "no room for a suffix, however fluent."),
        say(claims, "output-filter-holds",
            "The output filter held: {measured}.", "The output filter failed: {measured}."),
        say(claims, "gcg-best-loss-monotone", "GCG's best objective never went up.",
            "GCG's best objective went up somewhere: a bug."),
        say(claims, "ppl-filter-passes-clean", "The perplexity threshold passes clean prompts: {measured}.",
            "The perplexity threshold rejects too many clean prompts: {measured}."),
    ]
    return lines
