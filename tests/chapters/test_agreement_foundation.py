"""Chapter 03 agreement-foundation: the contract, bad input, the paper path (tiny files in the real
formats, a tiny random-weight open_clip model), determinism, nbval, and the claims at preset cpu
(from the results JSON of the one cpu execution, see conftest.executed_chapter).

The claim thresholds below restate the chapter's own (robustbook/chapters/agreement_foundation/
claims.py) from the raw metrics, so a bug in the chapter's judging cannot make this test pass."""

import dataclasses

import numpy as np
import pytest
import torch

from robustbook.chapters import agreement_foundation as chapter
from robustbook.chapters.agreement_foundation import experiments, features
from robustbook.chapters.agreement_foundation.claims import judge_claims
from robustbook.data.cifar import write_cifar10_batch
from robustbook.data.cifar_shifts import write_cifar10_1, write_cifar10_c
from robustbook.models.clip_features import register_tiny_config
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
])
def test_bad_parameters_fail_at_config_time(bad, message):
    with pytest.raises(ValueError, match=message):
        chapter.Config(**bad)


def test_min_epochs_above_the_preset_max_fails_at_resolve():
    with pytest.raises(ValueError, match="min_epochs"):
        chapter.Config(min_epochs=40).resolve()


def test_paper_preset_without_data_fails_before_any_training(monkeypatch, tmp_path):
    def no_work(*a, **k):
        raise AssertionError("work started before the data check")

    monkeypatch.setattr(features, "clip_features", no_work)
    monkeypatch.setattr(experiments, "run_seed", no_work)
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py/data_batch_1.*CIFAR-10-C/fog.npy"):
        chapter.run(chapter.Config(preset="paper", data_dir=str(tmp_path), corruptions=("fog",)))
    with pytest.raises(FileNotFoundError, match="needs data_dir"):
        chapter.run(chapter.Config(preset="paper"))


def _write_paper_fixtures(root, n=12):
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
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
    s = dataclasses.replace(config.resolve(), clip_model=register_tiny_config(), clip_pretrained=None)
    assert (s.backbone, s.n_seeds, s.severities) == ("open_clip", 1, (2, 5))
    feats = features.clip_features(s, torch.device("cpu"))
    assert feats.x_train.shape == (60, 16) and feats.x_id.shape == (12, 16)
    assert list(feats.shifts) == ["cifar10.1", "fog-2", "fog-5", "snow-2", "snow-5"]
    tables = experiments.run_seed(s, feats, 0, torch.device("cpu"))
    assert len(tables["models"]) == 3 * 5 * 3 and len(tables["lines"]) == 3 * 5
    assert all(0 <= row["acc_ood"] <= 1 for row in tables["models"])


def test_smoke_preset_is_deterministic_and_not_judged():
    a = chapter.run(chapter.Config(preset="smoke"))
    b = chapter.run(chapter.Config(preset="smoke"))
    assert a.metrics == b.metrics
    assert all(c.holds is None for c in a.claims)
    assert set(a.metrics["mae"]) == set(ENSEMBLES)


def _means(per_seed: dict) -> dict:
    return {k: float(np.mean(v)) for k, v in per_seed.items()}


@pytest.mark.chapter
def test_claims_at_preset_cpu_follow_from_the_raw_metrics():
    record = executed_chapter("agreement-foundation")
    assert record["params"]["preset"] == "cpu"
    m = record["metrics"]
    assert len(m["seeds"]) >= 3 and len(m["shifts"]) >= 10
    mae = {e: _means(m["mae"][e]) for e in ENSEMBLES}
    gaps = _means(m["lines"]["random_head"])
    holds = {c["id"]: c["holds"] for c in record["claims"]}
    # 1. AGL for random heads: slope and bias gaps within 0.15 (probit units)
    assert holds["agl-random-heads"] == (gaps["slope_gap"] <= 0.15 and gaps["bias_gap"] <= 0.15)
    # 2. random heads' ALine-D error at most half of both other ensembles' (the paper's main claim)
    ratio = mae["random_head"]["aline_d"] / min(mae["data_order"]["aline_d"], mae["data_subset"]["aline_d"])
    assert holds["randomness-source"] == (ratio <= 0.5)
    assert holds["randomness-source"], f"random heads' ALine-D MAE is {ratio:.2f}x the others' (> 0.5)"
    # 3. both ALine variants below every baseline on random heads
    rh = mae["random_head"]
    worse_aline, best_base = max(rh["aline_d"], rh["aline_s"]), min(rh[b] for b in ("naive", "atc", "ac", "doc"))
    assert holds["aline-beats-baselines"] == (worse_aline < best_base)
    # whatever the verdict on naive agreement, ALine beats the confidence baselines here
    assert worse_aline < min(rh["atc"], rh["ac"], rh["doc"])
    assert sum(m["aline_refusals"].values()) == 0


def _metrics(rh_d=5.0, other_d=15.0, slope_gap=0.1, naive=8.0):
    per = lambda v: [v, v, v]  # noqa: E731
    methods = {"aline_d": rh_d, "aline_s": rh_d, "naive": naive, "atc": 12.0, "ac": 12.0, "doc": 12.0}
    mae = {e: {k: per(v if e == "random_head" else (other_d if k.startswith("aline") else v))
               for k, v in methods.items()} for e in ENSEMBLES}
    lines = {e: {"slope_gap": per(slope_gap), "bias_gap": per(0.05), "acc_slope": per(0.7),
                 "agr_slope": per(0.8), "acc_bias": per(-0.3), "agr_bias": per(-0.3)} for e in ENSEMBLES}
    return {"mae": mae, "mape": mae, "lines": lines}


def test_claim_judging_follows_the_thresholds():
    holds = {c.id: c.holds for c in judge_claims(_metrics(), "cpu")}
    assert holds == {"agl-random-heads": True, "randomness-source": True, "aline-beats-baselines": True}
    holds = {c.id: c.holds for c in judge_claims(_metrics(rh_d=9.0, slope_gap=0.2), "cpu")}
    assert holds == {"agl-random-heads": False, "randomness-source": False, "aline-beats-baselines": False}
    # a refused ALine (None) makes the comparisons fail rather than pass
    m = _metrics()
    m["mae"]["random_head"]["aline_d"] = [None, 5.0, 5.0]
    holds = {c.id: c.holds for c in judge_claims(m, "cpu")}
    assert not holds["randomness-source"] and not holds["aline-beats-baselines"]
    assert all(c.holds is None for c in judge_claims(_metrics(), "smoke"))
