"""What this run shows, written from its claims (robustbook.book.narrative)."""

from __future__ import annotations

from robustbook.book.claims import Claim
from robustbook.book.narrative import say


def what_this_run_shows(claims: list[Claim], metrics: dict) -> list[str]:
    """Bullets, one per finding, each ending with its verdict tag."""
    return [
        say(claims, "mtl-l1-beats-erm",
            "The paper's **first claim carries over**: a reconstruction task built from the end-task "
            "inputs lifts worst-group accuracy above ERM ({measured}).",
            "The reconstruction task did **not** lift worst-group accuracy above ERM reliably ({measured})."),
        say(claims, "l1-alone-no-gain",
            "The ℓ1 penalty alone does not explain it ({measured}).",
            "The ℓ1 penalty alone accounts for much of the gain ({measured})."),
        say(claims, "mtl-l1-beats-mtl",
            "The penalty adds to multitasking ({measured}).",
            "What the penalty adds *on top of* multitasking is small or unreliable ({measured})."),
        say(claims, "mtl-l1-beats-jtt",
            "MTL + ℓ1 beats a JTT tuned as widely as its own weights ({measured}).",
            "The paper's **second claim does not carry over**: a JTT whose up-sampling factor is tuned as "
            "widely as MTL + ℓ1's weights is stronger on worst-group accuracy ({measured})."),
        say(claims, "avg-not-worse-than-jtt",
            "On average accuracy MTL + ℓ1 is no worse than JTT ({measured}).",
            "JTT is ahead on average accuracy too ({measured})."),
        say(claims, "image-mtl-l1-beats-erm",
            "On the image task MTL + ℓ1 beats ERM ({measured}).",
            "On the image task MTL + ℓ1 does not beat ERM reliably ({measured})."),
        say(claims, "image-mtl-l1-beats-jtt",
            "On the image task MTL + ℓ1 beats JTT, which up-samples the training images a 2-epoch ERM "
            "got wrong ({measured}).",
            "On the image task MTL + ℓ1 does not beat JTT ({measured})."),
    ]
