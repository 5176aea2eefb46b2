"""What this run shows, written from its claims and metrics (robustbook.book.narrative)."""

from __future__ import annotations

from robustbook.book.claims import Claim
from robustbook.book.narrative import say


def _refusals(metrics: dict) -> str:
    counts = {(ens, est): sum(v) for ens, by in metrics["aline_refusals"].items() for est, v in by.items()}
    total = sum(counts.values())
    if total == 0:
        return "ALine refused on no (seed, shift) case of this run."
    where = ", ".join(f"{est.replace('_', '-')} on {ens.replace('_', ' ')} {n}×" for (ens, est), n in counts.items() if n)
    return (f"ALine refused on {total} (seed, shift) case(s) of this run ({where}): a refusal counts as a "
            "failing seed rather than being averaged over the seed's other shifts.")


def _single_backbone_contrast(claims: list[Claim]) -> str:
    """The comparison with one backbone's random heads, only when this run's verdict there differs."""
    single = next((c for c in claims if c.id == "aline-beats-naive"), None)
    return ", unlike on the single-backbone random heads above" if single is not None and single.holds is False else ""


def what_this_run_shows(claims: list[Claim], metrics: dict) -> list[str]:
    """Bullets, one per finding (and the refusals), each finding ending with its verdict tag."""
    return [
        say(claims, "agl-random-heads",
            "**Random heads keep agreement on the line**: their agreement line lies close to their accuracy "
            "line, far closer than the data-order and data-subset ensembles' ({measured}).",
            "Random heads' agreement line is **not** clearly closer to their accuracy line than the other "
            "ensembles' ({measured})."),
        say(claims, "no-agl-data-order",
            "The data-order ensemble shows the paper's failure mode: its agreement line sits nearer y = x "
            "than its accuracy line, so agreement overstates OOD accuracy ({measured}).",
            "The data-order ensemble does not show the failure mode clearly ({measured})."),
        say(claims, "no-agl-data-subset",
            "So does the data-subset ensemble ({measured}).",
            "The data-subset ensemble does not show the failure mode clearly ({measured})."),
        say(claims, "randomness-source",
            "ALine-D is far more accurate on random heads than on the other two ensembles ({measured}); "
            "this finding is fragile at this scale (see the pre-registration).",
            "ALine-D's advantage on random heads did not reach the bar on enough seeds in this run "
            "({measured}); this finding is fragile at this scale (see the pre-registration)."),
        say(claims, "aline-beats-confidence",
            "**ALine beats the confidence baselines** ATC, AC and DOC, which overestimate accuracy under "
            "severe corruptions ({measured}).",
            "ALine does **not** beat the confidence baselines in this run ({measured})."),
        say(claims, "aline-beats-naive",
            "ALine also beats naive agreement ({measured}).",
            "ALine does **not** beat naive agreement here ({measured}); the paper, too, reports a setting "
            "where a baseline wins (ImageNetV2, where ATC beat ALine)."),
        *([say(claims, "agl-across-backbones",
               "**Across backbones the line holds**: fine-tunes of four different backbones pooled into one "
               "ensemble keep their agreement line near their accuracy line and far from y = x ({measured}).",
               "Pooled across backbones, the agreement line does **not** stay near the accuracy line ({measured})."),
           say(claims, "aline-across-backbones",
               "On that mixed ensemble ALine-D beats naive agreement clearly ({measured}){contrast}.",
               "On that mixed ensemble ALine-D does not beat naive agreement clearly ({measured}).",
               contrast=_single_backbone_contrast(claims))]
          if any(c.id == "agl-across-backbones" for c in claims) else []),
        *(_text(claims) if any(c.id == "text-agl-random-heads" for c in claims) else []),
        _refusals(metrics),
    ]


def _text(claims: list[Claim]) -> list[str]:
    """The language version's sentences (frozen MiniLM on shifted topic posts)."""
    return [
        say(claims, "text-agl-random-heads",
            "**On text, with a real pretrained encoder, the ordering is the same**: heads on frozen MiniLM "
            "embeddings keep agreement on the line only when the randomness is in the head's initialisation "
            "({measured}).",
            "On text, with frozen MiniLM embeddings, random heads' agreement line is **not** clearly closer to "
            "their accuracy line than the other ensembles' ({measured})."),
        say(claims, "text-no-agl-other-sources",
            "The data-order and data-subset ensembles on text show the failure mode: agreement nearer y = x "
            "than accuracy ({measured}).",
            "On text, the data-order and data-subset ensembles do not both show the failure mode ({measured})."),
        say(claims, "text-randomness-source",
            "ALine-D on text is far more accurate for random heads than for the other two ensembles, the "
            "ordering of the paper's SQuAD-Shifts and SNLI results ({measured}).",
            "ALine-D on text is **not** clearly more accurate for random heads than for the other two "
            "ensembles ({measured})."),
        say(claims, "text-aline-beats-confidence",
            "On text ALine also beats ATC, AC and DOC ({measured}).",
            "On text ALine does **not** beat every confidence baseline ({measured})."),
    ]
