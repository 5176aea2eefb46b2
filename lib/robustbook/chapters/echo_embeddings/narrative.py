"""What this run shows, written from its claims (robustbook.book.narrative)."""

from __future__ import annotations

from robustbook.book.claims import Claim
from robustbook.book.narrative import say


def what_this_run_shows(claims: list[Claim], metrics: dict) -> list[str]:
    """Bullets, one per finding at this preset, each ending with its verdict tag."""
    return [
        say(claims, "echo-sees-late",
            "**Echo's mechanism reproduces**: early tokens of the second copy carry information from the "
            "end of the sentence ({measured}).",
            "Echo's early-span embeddings did **not** reliably see the late words in this run ({measured})."),
        say(claims, "echo-probe-late-concept",
            "A linear probe reads the late concept off echo's early span ({measured}).",
            "A linear probe could not read the late concept off echo's early span ({measured})."),
        say(claims, "whole-sentence-gain",
            "On whole-sentence tasks echo embeddings match or beat classical ones ({measured}).",
            "On whole-sentence tasks the tiny model's **classical embedding beats echo** ({measured}): the "
            "downstream gain the paper measures with Mistral-7B on MTEB does not follow at this scale."),
        *([say(claims, "whole-sentence-cause",
               "The cause is **copying**: in the second copy each early word's state carries the word it "
               "copies, so pooled over the early words echo picks the negative that shares them, while "
               "pooled over the late words it picks the positive ({measured}).",
               "The copying diagnosis does **not** explain this run's whole-sentence result ({measured}).")]
          if any(c.id == "whole-sentence-cause" for c in claims) else []),
        *([say(claims, "ft-closes-gap",
               "**Contrastive fine-tuning removes the deficit**: on the same pairs and budget, echo ends no "
               "worse than classical ({measured}).",
               "Contrastive fine-tuning did **not** close echo's deficit within the budget ({measured})."),
           say(claims, "ft-echo-ahead",
               "After fine-tuning echo is **ahead** of classical, as in the paper ({measured}).",
               "But echo does not pull **ahead** as in the paper's +0.7%: {measured}.")]
          if any(c.id == "ft-closes-gap" for c in claims) else []),
    ]
