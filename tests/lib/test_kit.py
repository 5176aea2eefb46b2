"""The chapter kit: common config fields and checks, resolving against presets, help text written
once, findings judged on the seed mean and >= 80% of seeds, checks, smoke masking, the seed
convention, start/finish."""

from dataclasses import dataclass

import pandas as pd
import pytest
import torch

from robustbook.book.chapter import ChapterResult, derive_seed, finish, generator, start
from robustbook.book.claims import (
    Claim,
    Expect,
    check,
    claims_table,
    counts,
    finding,
    headline,
    preregistration_table,
    seeds_needed,
)
from robustbook.book.config import ChapterConfig, CommonSettings, parameter_help, parameters_cell, require


@dataclass(frozen=True)
class DemoSettings(CommonSettings):
    epochs: int
    dataset: str
    grid: tuple


@dataclass(frozen=True)
class DemoConfig(ChapterConfig):
    SETTINGS = DemoSettings
    PRESETS = {
        "smoke": {"n_seeds": 1, "epochs": 1, "dataset": "tiny"},
        "cpu": {"n_seeds": 3, "epochs": 7, "dataset": "digits"},
        "paper": {"n_seeds": 2, "epochs": 200, "dataset": "cifar10"},
    }
    data_dir: str | None = None   # paper: folder with cifar-10-batches-py/
    epochs: int | None = None     # passes over the data (cpu 7)
    grid: tuple = (0.0, 0.5)      # a grid, rendered as a list

    def check(self) -> None:
        require(self.epochs is None or self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")


def test_resolve_fills_none_from_the_preset_and_keeps_user_values():
    s = DemoConfig().resolve()
    assert (s.n_seeds, s.epochs, s.dataset, s.grid) == (3, 7, "digits", (0.0, 0.5))
    s = DemoConfig(preset="paper", epochs=5, n_seeds=4, seed=10).resolve()
    assert (s.n_seeds, s.epochs, s.dataset) == (4, 5, "cifar10")
    assert s.seeds == [10, 11, 12, 13]


@pytest.mark.parametrize("bad, message", [
    ({"preset": "gpu"}, "preset must be one of"), ({"device": "tpu"}, "device must be one of"),
    ({"threads": -1}, "threads must be >= 0"), ({"n_seeds": 0}, "n_seeds must be a positive integer"),
    ({"seed": -1}, "seed must be an integer >= 0"), ({"epochs": 0}, "epochs must be >= 1"),
])
def test_common_and_chapter_checks(bad, message):
    with pytest.raises(ValueError, match=message):
        DemoConfig(**bad)


def test_lists_become_tuples():
    assert DemoConfig(grid=[1.0, 2.0]).grid == (1.0, 2.0)


def test_help_text_comes_from_the_config_source_most_derived_wins():
    helps = parameter_help(DemoConfig)
    assert helps["data_dir"] == "paper: folder with cifar-10-batches-py/"  # re-declared here
    assert helps["threads"] == "torch CPU threads (0 means the torch default)"  # from the base
    assert list(helps)[:7] == ["preset", "seed", "device", "data_dir", "results_path", "threads", "n_seeds"]


def test_parameters_cell_renders_types_defaults_and_help():
    lines = parameters_cell(DemoConfig).splitlines()
    assert lines[0] == 'preset: str = "cpu"  # "smoke" (seconds, plumbing only) | "cpu" | "paper"'
    assert lines[3] == "data_dir: str = None  # paper: folder with cifar-10-batches-py/"
    assert lines[-2] == "epochs: int = None  # passes over the data (cpu 7)"
    assert lines[-1] == "grid: list = [0.0, 0.5]  # a grid, rendered as a list"


def test_seeds_needed_is_the_80_percent_rule():
    assert [seeds_needed(n) for n in (1, 2, 3, 4, 5, 10)] == [1, 2, 3, 4, 4, 8]


def test_a_finding_needs_the_mean_and_80_percent_of_seeds():
    ok = finding("f", "s", "p", "m", on_mean=True, per_seed=[True, True, True, True, False], expect=Expect(True))
    assert ok.holds and ok.seeds == (4, 5) and ok.measured.endswith("[4/5 seeds]")
    assert ok.verdict == "✓ reproduced"
    three = finding("f", "s", "p", "m", on_mean=True, per_seed=[True, True, True, False, False], expect=Expect(True))
    assert not three.holds and three.verdict.startswith("⚠ UNEXPECTED")  # 3/5 = 60% < 80%
    mean_fails = finding("f", "s", "p", "m", on_mean=False, per_seed=[True] * 5, expect=Expect(False, "why"))
    assert not mean_fails.holds and mean_fails.verdict == "✗ not reproduced at this scale (expected)"
    surprise = finding("f", "s", "p", "m", on_mean=True, per_seed=[True] * 3, expect=Expect(False, "why"))
    assert surprise.verdict == "⚠ UNEXPECTED: reproduced" and not surprise.as_expected


def test_a_fragile_finding_accepts_either_verdict_and_says_so():
    for per_seed, holds in (([True] * 4 + [False], True), ([True] * 3 + [False] * 2, False)):
        c = finding("f", "s", "p", "m", on_mean=True, per_seed=per_seed,
                    expect=Expect.fragile("4/5 on tuning", tuned=True))
        assert c.holds is holds and c.fragile and c.as_expected and "(fragile)" in c.verdict
        assert c.expected is True  # the tuning verdict stays on record
    assert counts([c])["fragile"] == 1 and counts([c])["unexpected"] == 0
    assert "1 pre-registered as fragile" in headline([c]) and "after a reported run" not in headline([c])
    assert claims_table([c]).loc["f", "pre-registered"] == "fragile, either verdict: 4/5 on tuning"
    late = finding("g", "s", "p", "m", on_mean=False, per_seed=[False], expect=Expect.fragile(
        "2/5 reported vs 5/5 tuning", tuned=True, post_hoc=True))
    assert "(1 of them after a reported run)" in headline([late]) and counts([late])["fragile_post_hoc"] == 1
    assert "registered after a reported run" in claims_table([late]).loc["g", "pre-registered"]
    assert "after a reported run" in preregistration_table({"g": Expect.fragile("x", tuned=False, post_hoc=True)}
                                                         ).loc["g", "expected at preset cpu"]
    with pytest.raises(ValueError, match="one-line reason"):
        Expect.fragile("", tuned=True)
    with pytest.raises(ValueError, match="True or False"):
        Expect(None, "why")


def test_expectations_and_kinds_are_enforced():
    with pytest.raises(ValueError, match="one-line reason"):
        Expect(False)
    with pytest.raises(ValueError, match="kind"):
        Claim("x", "observation", "s", "p", "m", True)
    with pytest.raises(ValueError, match="pre-registered"):
        Claim("x", "finding", "s", "p", "m", True)
    with pytest.raises(ValueError, match="per_seed is empty"):
        finding("f", "s", "p", "m", on_mean=True, per_seed=[], expect=Expect(True))


def _claims():
    return [check("c", "identity", "proved", "gap 1e-12", True),
            finding("f1", "s", "p", "m", on_mean=True, per_seed=[True, True], expect=Expect(True)),
            finding("f2", "s", "p", "m", on_mean=False, per_seed=[False, True], expect=Expect(False, "small"))]


def test_table_lists_findings_first_and_headline_counts_findings_only():
    table = claims_table(_claims())
    assert list(table.index) == ["f1", "f2", "c"]
    assert list(table.columns) == ["kind", "claim", "paper", "this run", "pre-registered", "verdict"]
    assert table.loc["f2", "pre-registered"] == "not reproduced: small"
    assert counts(_claims()) == {"findings": 2, "reproduced": 1, "not_reproduced_expected": 1,
                                 "fragile": 0, "fragile_post_hoc": 0, "unexpected": 0, "checks": 1,
                                 "checks_passed": 1}
    assert headline(_claims()) == ("1/2 findings reproduced (1 not at this scale, as pre-registered); "
                                   "1/1 checks pass")
    prereg = preregistration_table({"f1": Expect(True), "f2": Expect(False, "small")})
    assert prereg.loc["f2", "expected at preset cpu"] == "not reproduced" and prereg.loc["f2", "reason"] == "small"


def test_derive_seed_separates_streams_and_indices():
    seeds = {derive_seed(s, n, i) for s in (0, 1) for n in ("init", "order") for i in range(50)}
    assert len(seeds) == 200 and all(0 <= s < 2**31 for s in seeds)
    assert derive_seed(3, "init", 2) == derive_seed(3, "init", 2)
    assert derive_seed(0, "a", 1) != derive_seed(1, "a", 0)  # not seed + index
    a, b = generator(0, "x"), generator(0, "x")
    assert torch.equal(torch.rand(3, generator=a), torch.rand(3, generator=b))


@dataclass
class DemoResult(ChapterResult):
    settings: DemoSettings
    table: pd.DataFrame


def test_start_and_finish_mask_claims_at_smoke_only():
    def judge(m):
        return [finding("f", "s", "p", f"{m['x']}", on_mean=True, per_seed=[True], expect=Expect(True))]

    for preset, holds in (("smoke", None), ("cpu", True)):
        ctx = start(DemoConfig(preset=preset, device="cpu"), progress=False)
        assert ctx.device == torch.device("cpu") and not ctx.progress
        result = finish(ctx, DemoResult(settings=ctx.settings, table=pd.DataFrame()), lambda r: {"x": 1}, judge)
        assert result.metrics == {"x": 1} and result.claims[0].holds is holds and result.seconds >= 0


def test_class_attributes_are_not_fields_and_from_globals_builds_the_config():
    assert "SETTINGS" not in DemoConfig.__dataclass_fields__ and "PRESETS" not in DemoConfig.__dataclass_fields__
    namespace = {"preset": "smoke", "seed": 2, "device": "cpu", "data_dir": None, "results_path": None,
                 "threads": 1, "n_seeds": None, "epochs": 3, "grid": [0.1], "unrelated": object()}
    assert DemoConfig.from_globals(namespace) == DemoConfig(preset="smoke", seed=2, device="cpu", epochs=3,
                                                            grid=(0.1,))


def test_verdict_sentences_follow_the_claims():
    from robustbook.book.claims import verdict_sentences

    text = verdict_sentences(_claims())
    assert text.splitlines()[0] == "**" + headline(_claims()) + ".**"
    assert "- `f2` (finding) — ✗ not reproduced at this scale (expected): m [1/2 seeds]" in text
    assert text.index("`f1`") < text.index("`c`")  # findings first, as in the table
