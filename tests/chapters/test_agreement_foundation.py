"""Chapter 03 agreement-foundation: bad input, the paper path (tiny files in the real formats, a
tiny random-weight open_clip model, the weights check before any work), determinism, and the
science at preset cpu (from the results JSON of the one cpu execution, see
conftest.executed_chapter).

The science test restates each finding from the raw per-seed metrics with its own thresholds (the
paper's claims as this chapter pre-registered them), so a bug in the chapter's judging cannot
make it pass; the contract test separately checks every verdict against ``EXPECTED``."""

import dataclasses

import numpy as np
import pytest
import torch

from robustbook.chapters import agreement_foundation as chapter
from robustbook.chapters.agreement_foundation import experiments
from robustbook.chapters.agreement_foundation.claims import judge_claims
from robustbook.data.cifar import write_cifar10_batch
from robustbook.data.cifar_shifts import write_cifar10_1, write_cifar10_c
from robustbook.models.clip_features import load_open_clip, register_tiny_config
from robustbook.models.frozen_features import clip_features
from tests.conftest import executed_chapter

pytestmark = pytest.mark.xdist_group("agreement-foundation")
ENSEMBLES = ("random_head", "data_order", "data_subset")


@pytest.mark.parametrize("bad, message", [
    ({"preset": "gpu"}, "preset must be one of"),
    ({"n_models": 2}, "n_models must be an integer >= 3"),
    ({"min_epochs": 5, "max_epochs": 2}, "min_epochs"),
    ({"max_epochs": 0}, "max_epochs must be a positive integer"),
    ({"lr": 0.0}, "lr must be > 0"),
    ({"subset_fraction": 1.5}, r"subset_fraction must be in \(0, 1\]"),
    ({"corruptions": ("gaussian_noise", "rain")}, "unknown: \\['rain'\\]"),
    ({"severities": (0, 3)}, "severities must be"),
    ({"pretrain_classes": 11}, r"pretrain_classes must be in \[2, 10\]"),
    ({"device": "tpu"}, "device must be one of"),
    ({"cross_models": 2}, "cross_models must be 0 or an integer >= 3"),
    ({"text_models": 1}, "text_models must be 0 or an integer >= 3"),
    ({"text_train": 5}, "text_train must be an integer >= 10"),
    ({"text_test": 0}, "text_test must be a positive integer"),
])
def test_bad_parameters_fail_at_config_time(bad, message):
    with pytest.raises(ValueError, match=message):
        chapter.Config(**bad)


def test_min_epochs_above_the_preset_max_fails_at_resolve():
    with pytest.raises(ValueError, match="min_epochs"):
        chapter.Config(min_epochs=40).resolve()


def _no_work(*a, **k):
    raise AssertionError("work started before the data and weights checks")


def test_paper_preset_checks_data_then_weights_before_any_work(monkeypatch, tmp_path):
    monkeypatch.setattr(chapter, "paper_features", _no_work)
    monkeypatch.setattr(experiments, "run_seed", _no_work)
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py/data_batch_1.*CIFAR-10-C/fog.npy"):
        chapter.run(chapter.Config(preset="paper", data_dir=str(tmp_path), corruptions=("fog",)))
    with pytest.raises(FileNotFoundError, match="needs data_dir"):
        chapter.run(chapter.Config(preset="paper"))
    _write_paper_fixtures(tmp_path)  # data complete: now the missing weights are named
    with pytest.raises(FileNotFoundError, match="open_clip weights of ViT-B-32 / laion2b_s34b_b79k "
                       "are not in the local cache.*open_clip_pytorch_model.bin"):
        chapter.run(chapter.Config(preset="paper", data_dir=str(tmp_path), corruptions=("fog",)))


def _write_paper_fixtures(root, n=12):
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_cifar10_batch(folder / name, rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
                            rng.integers(0, 10, n))
    write_cifar10_1(root / "CIFAR-10.1", rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                    rng.integers(0, 10, n))
    for c in ("fog", "snow"):
        write_cifar10_c(root / "CIFAR-10-C", c, rng.integers(0, 256, (5, n, 32, 32, 3), dtype=np.uint8),
                        rng.integers(0, 10, n))


def test_paper_path_runs_on_tiny_files_in_the_real_format(tmp_path):
    _write_paper_fixtures(tmp_path)
    config = chapter.Config(preset="paper", data_dir=str(tmp_path), corruptions=("fog", "snow"),
                            severities=(2, 5), n_models=3, max_epochs=2, batch_size=8, n_seeds=1)
    tiny = dataclasses.replace(config, clip_model=register_tiny_config(), clip_pretrained=None)
    tiny.require_data()  # the data files are all there; random weights (None) need no cache
    s = tiny.resolve()
    assert (s.backbone, s.n_seeds, s.severities) == ("open_clip", 1, (2, 5))
    feats = chapter.paper_features(s, torch.device("cpu"))
    assert feats.x_train.shape == (60, 16) and feats.x_id.shape == (12, 16)
    assert list(feats.shifts) == ["cifar10.1", "fog-2", "fog-5", "snow-2", "snow-5"]
    again = clip_features(load_open_clip(s.clip_model, None), s.data_dir, corruptions=("fog",),
                          severities=(2,))
    assert again.x_train.shape == (60, 16)
    tables = experiments.run_seed(s, feats, 0, torch.device("cpu"))
    assert len(tables["models"]) == 3 * 5 * 3 and len(tables["lines"]) == 3 * 5
    assert len(tables["errors"]) == 3 * 5 * 6
    assert tables["cross"] == [] and tables["cross_models"] == []  # paper: one backbone, no mixed ensemble
    assert all(0 <= row["acc_ood"] <= 1 for row in tables["models"])


def test_without_the_mixed_ensemble_or_the_language_version_the_sections_say_so():
    import matplotlib.pyplot as plt

    from robustbook.chapters.agreement_foundation import plots, tables
    result = chapter.run(chapter.Config(preset="smoke", cross_models=0, text_models=0), progress=False)
    assert result.cross.empty and "agl-across-backbones" not in {c.id for c in result.claims}
    assert not result.has_text and not any(c.id.startswith("text-") for c in result.claims)
    assert result.metrics["text"] is None
    for draw in (plots.cross_backbone, plots.text_lines, plots.text_method_errors):
        fig = draw(result)
        assert "Not drawn in this run" in fig.axes[0].texts[0].get_text()
        plt.close(fig)
    assert "not run" in tables.text_table(result).iloc[0, 0]


def test_the_language_version_at_smoke_scale():
    import matplotlib.pyplot as plt

    from robustbook.chapters.agreement_foundation import plots, tables
    result = chapter.run(chapter.Config(preset="smoke", cross_models=0), progress=False)
    s = result.settings
    assert (s.text_models, s.text_train, s.text_test, s.severities) == (6, 200, 100, (3,))
    assert sorted(result.text_lines["shift"].unique()) == ["style", "typos-3", "vocabulary-3"]
    assert len(result.text_models) == 3 * 3 * 6 and len(result.text_pairs) == 3 * 3 * 15
    assert set(result.metrics["text"]["mae"]) == set(ENSEMBLES)
    table = tables.text_table(result)
    assert list(table.columns) == ["random head init", "data order", "data subset"]
    assert table.index[0] == "agr.–acc. gap" and "ALine-D MAPE %" in table.index and len(table) == 9
    fig = plots.text_lines(result)
    assert "vocabulary-3" in fig.texts[0].get_text() and len(fig.axes) == 3
    plt.close(fig)
    plt.close(plots.text_method_errors(result))


def test_smoke_preset_is_deterministic_and_not_judged():
    a = chapter.run(chapter.Config(preset="smoke"), progress=False)
    b = chapter.run(chapter.Config(preset="smoke"), progress=False)
    assert a.metrics == b.metrics
    assert all(c.holds is None for c in a.claims)
    assert set(a.metrics["mae"]) == set(ENSEMBLES)
    assert [c.id for c in a.claims if c.kind == "finding"] == list(chapter.EXPECTED)


# ---- the science at preset cpu, restated from the raw metrics ----------------------------------

def _defined_mean(values):
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else float("nan")


def _share(flags) -> bool:
    return sum(flags) >= 0.8 * len(flags) - 1e-9


def _by_seed(*series):
    return [vals if all(v is not None for v in vals) else None for vals in zip(*series)]


@pytest.mark.chapter
def test_the_science_at_preset_cpu_follows_from_the_raw_metrics():
    record = executed_chapter("agreement-foundation")
    assert record["params"]["preset"] == "cpu"
    m = record["metrics"]
    assert m["seeds"] == [0, 1, 2, 3, 4] and len(m["shifts"]) == 15
    holds = {c["id"]: c["holds"] for c in record["claims"]}
    lines, mae = m["lines"], m["mae"]

    # AGL for random heads, comparatively: agreement-to-accuracy-line gap <= half the others'
    gap = {e: lines[e]["line_gap"] for e in ENSEMBLES}
    seeds = [v is not None and v[0] <= 0.5 * min(v[1:]) for v in _by_seed(*gap.values())]
    mean = {e: _defined_mean(gap[e]) for e in ENSEMBLES}
    agl = mean["random_head"] <= 0.5 * min(mean["data_order"], mean["data_subset"]) and _share(seeds)
    assert holds["agl-random-heads"] == agl
    # the negative half: data-order / data-subset agreement lines nearer y = x than the accuracy line
    for e in ("data_order", "data_subset"):
        ident, g = lines[e]["identity_gap"], lines[e]["line_gap"]
        seeds = [v is not None and v[0] < v[1] for v in _by_seed(ident, g)]
        expected = _defined_mean(ident) < _defined_mean(g) and _share(seeds)
        assert holds[f"no-agl-{e.replace('_', '-')}"] == expected
    # ALine-D's error on random heads at most half of both others'; a refused seed counts as failing
    d = {e: mae[e]["aline_d"] for e in ENSEMBLES}
    seeds = [v is not None and v[0] <= 0.5 * min(v[1:]) for v in _by_seed(*d.values())]
    dm = {e: _defined_mean(d[e]) for e in ENSEMBLES}
    assert holds["randomness-source"] == (dm["random_head"] <= 0.5 * min(dm["data_order"], dm["data_subset"])
                                          and _share(seeds))
    # ALine vs the baselines on random heads
    rh = mae["random_head"]
    for cid, base in (("aline-beats-confidence", ("atc", "ac", "doc")), ("aline-beats-naive", ("naive",))):
        seeds = [v is not None and max(v[:2]) < min(v[2:])
                 for v in _by_seed(rh["aline_d"], rh["aline_s"], *(rh[b] for b in base))]
        on_mean = max(_defined_mean(rh[a]) for a in ("aline_d", "aline_s")) < min(_defined_mean(rh[b]) for b in base)
        assert holds[cid] == (on_mean and _share(seeds))
    # whatever the verdicts, the paper's core contrast is visible on the seed means
    assert mean["random_head"] < min(mean["data_order"], mean["data_subset"])
    assert dm["random_head"] < min(dm["data_order"], dm["data_subset"])
    # refusals are counted, and a seed with one has no mean (never averaged over the answered shifts)
    for e in ENSEMBLES:
        for method, counts in m["aline_refusals"][e].items():
            assert len(counts) == 5
            for n, value in zip(counts, mae[e][method]):
                assert (value is None) == (n > 0)
    assert m["batched_vs_looped"]["max_param_diff"] < 1e-5
    # across backbones: gap <= 0.2 and gap to y = x >= 2x the gap; ALine-D <= 0.75 x naive agreement
    c = m["cross"]
    assert c["n_backbones"] == 4 and c["models_per_backbone"] == 12 and len(c["line_gap"]) == 5
    seeds = [g <= 0.2 and i >= 2 * g for g, i in zip(c["line_gap"], c["identity_gap"])]
    assert holds["agl-across-backbones"] == (np.mean(c["line_gap"]) <= 0.2 and np.mean(c["identity_gap"])
                                             >= 2 * np.mean(c["line_gap"]) and _share(seeds))
    seeds = [v is not None and v[0] <= 0.75 * v[1] for v in _by_seed(c["mae_aline_d"], c["mae_naive"])]
    assert holds["aline-across-backbones"] == (_defined_mean(c["mae_aline_d"]) <= 0.75 * np.mean(c["mae_naive"])
                                               and _share(seeds))
    # the language version: the same thresholds on MiniLM heads over the 7 text shifts
    t = m["text"]
    assert t["seeds"] == [0, 1, 2, 3, 4] and len(t["shifts"]) == 7
    gap = {e: t["lines"][e]["line_gap"] for e in ENSEMBLES}
    seeds = [v is not None and v[0] <= 0.5 * min(v[1:]) for v in _by_seed(*gap.values())]
    mean = {e: _defined_mean(gap[e]) for e in ENSEMBLES}
    assert holds["text-agl-random-heads"] == (mean["random_head"] <= 0.5 * min(mean["data_order"], mean["data_subset"])
                                              and _share(seeds))
    others = ("data_order", "data_subset")
    seeds = [v is not None and v[0] < v[1] and v[2] < v[3]
             for v in _by_seed(*(t["lines"][e][k] for e in others for k in ("identity_gap", "line_gap")))]
    assert holds["text-no-agl-other-sources"] == (all(_defined_mean(t["lines"][e]["identity_gap"])
                                                      < _defined_mean(t["lines"][e]["line_gap"]) for e in others)
                                                  and _share(seeds))
    d = {e: t["mae"][e]["aline_d"] for e in ENSEMBLES}
    seeds = [v is not None and v[0] <= 0.5 * min(v[1:]) for v in _by_seed(*d.values())]
    dm = {e: _defined_mean(d[e]) for e in ENSEMBLES}
    assert holds["text-randomness-source"] == (dm["random_head"] <= 0.5 * min(dm["data_order"], dm["data_subset"])
                                               and _share(seeds))
    rh = t["mae"]["random_head"]
    seeds = [v is not None and max(v[:2]) < min(v[2:])
             for v in _by_seed(rh["aline_d"], rh["aline_s"], *(rh[b] for b in ("atc", "ac", "doc")))]
    on_mean = (max(_defined_mean(rh[a]) for a in ("aline_d", "aline_s"))
               < min(_defined_mean(rh[b]) for b in ("atc", "ac", "doc")))
    assert holds["text-aline-beats-confidence"] == (on_mean and _share(seeds))


def _cross(gap=0.1, ident=0.7, d=5.0, naive=10.0):
    return {"line_gap": [gap] * 5, "identity_gap": [ident] * 5, "mae_aline_d": [d] * 5, "mae_aline_s": [d] * 5,
            "mae_naive": [naive] * 5, "n_backbones": 4, "models_per_backbone": 12}


def test_across_backbone_findings_follow_their_thresholds():
    def holds(**kw):
        m = {**_metrics(), "cross": _cross(**kw), "text": _metrics()}
        claims = {c.id: c for c in judge_claims(m)}
        assert [c.id for c in judge_claims(m) if c.kind == "finding"] == list(chapter.EXPECTED)
        return claims["agl-across-backbones"].holds, claims["aline-across-backbones"].holds
    assert holds() == (True, True)
    assert holds(gap=0.2, ident=0.4, d=7.5) == (True, True)     # both bounds inclusive
    assert holds(gap=0.25)[0] is False                          # the agreement line strays
    assert holds(gap=0.15, ident=0.25)[0] is False              # near y = x: not a line of its own
    assert holds(d=8.0)[1] is False                              # 0.8 x naive
    m = {**_metrics(), "cross": {**_cross(), "mae_aline_d": [5.0, None, 5.0, 5.0, 5.0]}}
    aline = next(c for c in judge_claims(m) if c.id == "aline-across-backbones")
    assert aline.seeds == (4, 5) and "1 seed(s) undefined" in aline.measured


def _metrics(rh_gap=0.1, other_gap=0.5, ident=0.2, rh_d=5.0, other_d=15.0, naive=8.0, refused_seed=None):
    per = lambda v: [v] * 5  # noqa: E731
    methods = {"aline_d": rh_d, "aline_s": rh_d, "naive": naive, "atc": 12.0, "ac": 12.0, "doc": 12.0}
    mae = {e: {k: per(v if e == "random_head" or not k.startswith("aline") else other_d)
               for k, v in methods.items()} for e in ENSEMBLES}
    refusals = {e: {k: per(0) for k in ("aline_d", "aline_s")} for e in ENSEMBLES}
    if refused_seed is not None:
        mae["random_head"]["aline_d"][refused_seed] = None
        refusals["random_head"]["aline_d"][refused_seed] = 1
    lines = {e: {"line_gap": per(rh_gap if e == "random_head" else other_gap), "identity_gap": per(ident),
                 "acc_slope": per(0.7), "agr_slope": per(0.8), "acc_bias": per(-0.3), "agr_bias": per(-0.3)}
             for e in ENSEMBLES}
    return {"seeds": [0, 1, 2, 3, 4], "shifts": ["a-1", "b-1"], "mae": mae, "mape": mae,
            "aline_refusals": refusals, "lines": lines, "acc_id_spread": {e: per(40.0) for e in ENSEMBLES},
            "batched_vs_looped": {"max_param_diff": 1e-7}}


def test_text_findings_follow_the_image_thresholds():
    def holds(**kw):
        claims = judge_claims({**_metrics(), "text": _metrics(**kw)})
        return {c.id: c.holds for c in claims if c.id.startswith("text-")}
    assert holds() == {"text-agl-random-heads": True, "text-no-agl-other-sources": True,
                       "text-randomness-source": True, "text-aline-beats-confidence": True,
                       "text-id-accuracy-spread": True}
    assert holds(rh_gap=0.25)["text-agl-random-heads"] is True       # 0.25 <= 0.5 x 0.5: inclusive
    assert holds(rh_gap=0.26)["text-agl-random-heads"] is False
    assert holds(ident=0.5)["text-no-agl-other-sources"] is False    # gap to y = x not below 0.5
    assert holds(rh_d=7.5)["text-randomness-source"] is True         # 7.5 <= 0.5 x 15
    assert holds(rh_d=7.6)["text-randomness-source"] is False
    assert holds(rh_d=12.0)["text-aline-beats-confidence"] is False  # ties the best baseline: not below
    t = _metrics(refused_seed=1)
    t["mae"]["random_head"]["aline_d"][2] = None
    claim = next(c for c in judge_claims({**_metrics(), "text": t}) if c.id == "text-randomness-source")
    assert claim.seeds == (3, 5) and not claim.holds


def test_claim_judging_follows_the_thresholds():
    holds = {c.id: c.holds for c in judge_claims(_metrics())}
    assert holds == {"agl-random-heads": True, "no-agl-data-order": True, "no-agl-data-subset": True,
                     "randomness-source": True, "aline-beats-confidence": True, "aline-beats-naive": True,
                     "id-accuracy-spread": True, "batched-equals-looped": True}
    holds = {c.id: c.holds for c in judge_claims(_metrics(rh_gap=0.3, ident=0.6, rh_d=9.0, naive=4.0))}
    assert not any(holds[k] for k in ("agl-random-heads", "no-agl-data-order", "randomness-source",
                                      "aline-beats-naive"))
    assert holds["aline-beats-confidence"]  # 9 < 12


def test_a_refused_seed_counts_as_failing_and_is_shown():
    claims = {c.id: c for c in judge_claims(_metrics(refused_seed=2))}
    c = claims["randomness-source"]
    assert c.seeds == (4, 5) and c.holds  # 4/5 still meets the 80% rule; the mean is over 4 seeds
    assert "1 seed(s) undefined" in c.measured and "ALine-D refused on 1/10" in c.measured
    m = _metrics(refused_seed=2)
    m["mae"]["random_head"]["aline_d"][3] = None
    assert judge_claims(m)[3].seeds == (3, 5) and not judge_claims(m)[3].holds


def test_the_mixed_ensemble_sentence_contrasts_with_one_backbone_only_when_that_verdict_differs():
    from robustbook.chapters.agreement_foundation.narrative import what_this_run_shows

    def sentence(naive_holds: bool) -> str:
        claims = [dataclasses.replace(c, holds=naive_holds) if c.id == "aline-beats-naive" else
                  dataclasses.replace(c, holds=True if c.kind == "finding" else c.holds)
                  for c in judge_claims({**_metrics(), "cross": _cross()})]
        return next(s for s in what_this_run_shows(claims, {"aline_refusals": {}}) if "mixed ensemble" in s)
    assert "unlike on the single-backbone random heads" in sentence(False)
    assert "unlike" not in sentence(True)
