"""Chapter 01 sam-label-noise: the contract, bad input, the paper path, determinism, nbval, and the
claims at preset cpu (from the results JSON of the one cpu execution, see conftest.executed_chapter).

The claim thresholds below restate the chapter's own (robustbook/chapters/sam_label_noise/claims.py)
from the raw metrics, so a bug in the chapter's judging cannot make this test pass."""


import numpy as np
import pytest
import torch

from robustbook.chapters import sam_label_noise as chapter
from robustbook.chapters.sam_label_noise import experiments
from robustbook.data.cifar import write_cifar10_batch
from tests.conftest import executed_chapter

pytestmark = pytest.mark.xdist_group("sam-label-noise")


@pytest.mark.parametrize("bad, message", [
    ({"label_noise_rate": 1.5}, r"label_noise_rate must be in \[0, 1\)"),
    ({"label_noise_rate": -0.1}, r"label_noise_rate must be in \[0, 1\)"),
    ({"preset": "gpu"}, "preset must be one of"),
    ({"linear_noise_rate": 0.5}, r"\[0, 0.5\)"),
    ({"sam_mode": "2-sam"}, "sam_mode"),
    ({"rho": -1.0}, "rho must be >= 0"),
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"linear_rhos": (1.0, 2.0)}, "linear_rhos must start at 0"),
])
def test_bad_parameters_fail_at_config_time(bad, message):
    with pytest.raises(ValueError, match=message):
        chapter.Config(**bad)


def test_paper_preset_without_data_fails_before_any_training(monkeypatch):
    def no_training(*a, **k):
        raise AssertionError("training started before the data check")

    monkeypatch.setattr(experiments, "deep_runs", no_training)
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        chapter.run(chapter.Config(preset="paper", data_dir="/nonexistent"))


@pytest.mark.slow
def test_paper_path_trains_from_cifar_files_in_the_real_format(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_cifar10_batch(folder / name, rng.integers(0, 256, (8, 3, 32, 32), dtype=np.uint8),
                            rng.integers(0, 10, 8))
    s = chapter.Config(preset="paper", data_dir=str(tmp_path), n_train=8, epochs=1, batch_size=4).resolve()
    assert (s.dataset, s.sam_mode, s.rho, s.label_noise_rate) == ("cifar10", "1-sam", 0.01, 0.3)
    split = experiments.load_split(s, 0)
    assert split.x_train.shape == (8, 3, 32, 32) and split.x_test.shape == (8, 3, 32, 32)
    for method in ("jsam", "sgd_penalties"):
        frame = experiments.train_one(method, split, s, 0, torch.device("cpu"))
        assert list(frame["epoch"]) == [0, 1] and frame["test_acc"].between(0, 1).all()


def test_smoke_preset_is_deterministic_and_not_judged():
    a = chapter.run(chapter.Config(preset="smoke"), progress=False)
    b = chapter.run(chapter.Config(preset="smoke"), progress=False)
    assert a.metrics == b.metrics
    assert all(c.holds is None for c in a.claims)


@pytest.mark.chapter
def test_claims_hold_at_preset_cpu():
    record = executed_chapter("sam-label-noise")
    assert record["params"]["preset"] == "cpu"
    m = record["metrics"]
    assert len(m["seeds"]) >= 3
    best = {k: np.mean(v) for k, v in m["best_acc"].items()}
    gain = best["sam"] - best["sgd"]
    assert gain >= 0.03, f"SAM's early-stopped gain over SGD is {gain:.3f} < 0.03"
    assert (best["jsam"] - best["sgd"]) / gain >= 0.75, "J-SAM keeps less than 75% of SAM's gain"
    assert (best["lsam"] - best["sgd"]) / gain <= 0.25, "L-SAM keeps more than 25% of SAM's gain"
    assert (best["sgd_penalties"] - best["sgd"]) / gain >= 0.5, "penalties recover < 50% of the gain"
    ratios = [np.mean(v) for v in m["linear_ratio_by_rho"].values()]
    assert np.all(np.diff(ratios) > 0), f"clean/noisy weight ratio not increasing in rho: {ratios}"
    assert m["two_layer_gradient_gap"] < 1e-8
    norms = m["two_layer_final_norms"]
    assert norms["jsam"]["last_layer_norm"] < norms["sgd"]["last_layer_norm"]
    assert norms["jsam"]["feature_norm"] < norms["sgd"]["feature_norm"]
    assert [c["holds"] for c in record["claims"]] == [True] * 5


def _metrics(best_sam, best_sgd=0.70):
    best = {"sgd": [best_sgd] * 3, "sam": [best_sam] * 3, "jsam": [0.8] * 3, "lsam": [0.7] * 3,
            "sgd_penalties": [0.78] * 3}
    gain = best_sam - best_sgd
    return {"best_acc": best, "sam_gain_per_seed": [gain] * 3,
            "share_of_sam_gain": {m: ((best[m][0] - best_sgd) / gain if gain > 0 else None)
                                  for m in ("jsam", "lsam", "sgd_penalties")},
            "linear_ratio_by_rho": {"0.0": [0.5], "1.0": [0.6]}, "two_layer_gradient_gap": 1e-14,
            "two_layer_final_norms": {"sgd": {"last_layer_norm": 1.0, "feature_norm": 2.0},
                                      "jsam": {"last_layer_norm": 0.5, "feature_norm": 1.0}}}


def test_claim_judging_follows_the_thresholds():
    from robustbook.chapters.sam_label_noise.claims import judge_claims

    holds = {c.id: c.holds for c in judge_claims(_metrics(best_sam=0.80), "cpu")}
    assert holds == {"early-stop-gain": True, "linear-upweights-clean": True, "jsam-keeps-gain": True,
                     "two-layer-penalty": True, "penalties-recover-gain": True}
    # SAM no better than SGD: the gain claims fail and shares are undefined, not NaN.
    holds = {c.id: c.holds for c in judge_claims(_metrics(best_sam=0.69), "cpu")}
    assert not holds["early-stop-gain"] and not holds["jsam-keeps-gain"]
    assert not holds["penalties-recover-gain"]
    assert all(c.holds is None for c in judge_claims(_metrics(best_sam=0.80), "smoke"))
