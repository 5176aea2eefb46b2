"""What this run shows, written from its claims and metrics (robustbook.book.narrative)."""

from __future__ import annotations

from robustbook.book.claims import Claim
from robustbook.book.narrative import say
from robustbook.chapters.conjugate_prompting.claims import recovered_share


def what_this_run_shows(claims: list[Claim], metrics: dict) -> list[str]:
    """Bullets, one per finding, each ending with its verdict tag."""
    late, seeds = metrics["late_mse"], metrics["seeds"]
    pre, ft = late["pretrained"], late["fine-tuned"]
    c = metrics["conjugate_c"]
    conj = metrics["late_continuous_mse_by_c"][str(c)]["fine-tuned"]
    shares = [recovered_share(f, g, p) for f, g, p in zip(ft["continuous"], conj, pre["continuous"])]
    per_seed_share = ", ".join("no gap" if s is None else f"{s:+.0%}" for s in shares)
    prior = metrics["implied_prior"]
    priors = ", ".join(f"{a:.2f} → {b:.2f}" for a, b in zip(prior["pretrained"], prior["fine-tuned"]))
    rise = ", ".join(f"{(b - a) / a:+.0%}" for a, b in zip(pre["continuous"], ft["continuous"]))
    return [
        say(claims, "forgetting",
            "Fine-tuning on the discrete pool **raised the continuous-task loss** (late queries) while "
            "lowering the discrete-task loss — forgetting, reproduced (per seed {rise}): {measured}.",
            "Fine-tuning on the discrete pool did **not** raise the continuous-task loss by the "
            "pre-registered margin while lowering the discrete one (per seed {rise}): {measured}.",
            rise=rise),
        say(claims, "skewed-inference",
            "On continuous prompts the fine-tuned model behaves like a Bayes predictor that believes "
            "more tasks come from the pool: its **implied prior** moved toward the discrete pool "
            "(per seed {priors}).",
            "The fine-tuned model's implied prior did **not** move clearly toward the discrete pool "
            "(per seed {priors}).", priors=priors),
        say(claims, "pretrained-near-bayes",
            "The pretrained model is close to the Bayes mixture predictor: {measured}.",
            "The pretrained model is far from Bayes-optimal ({measured}), so its task inference is only "
            "approximate at this size."),
        say(claims, "conjugate-recovers",
            "**Conjugate prompting helped**: scaling the inputs by c = {c} recovered part of the "
            "forgetting gap (per seed {shares}; {measured}).",
            "**Conjugate prompting did not help** at c = {c}: the share of the gap it recovered was "
            "{shares} per seed ({measured}); the sweep figure above shows every c.",
            c=c, shares=per_seed_share),
        f"Seeds {seeds[0]}–{seeds[-1]}." if len(seeds) > 1 else f"Seed {seeds[0]}.",
    ]
