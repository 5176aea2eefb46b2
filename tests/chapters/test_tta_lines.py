"""Chapter 09 tta-lines: bad input, the paper path (tiny files in the real on-disk formats and tiny
torchvision models; missing data and models named before any work), determinism at smoke, the
claims' thresholds, and the science at preset cpu (from the results JSON of the one cpu execution,
see conftest.executed_chapter), restated from the raw per-seed metrics with this test's own code."""

import numpy as np
import pytest
import torch

from robustbook.chapters import tta_lines as chapter
from robustbook.chapters.tta_lines import experiments
from robustbook.chapters.tta_lines.claims import judge_claims
from robustbook.data.cifar import write_cifar10_batch
from robustbook.data.cifar_shifts import write_cifar10_c
from robustbook.tta.paper import MODELS_FOLDER
from tests.conftest import executed_chapter

pytestmark = pytest.mark.xdist_group("tta-lines")
PAPER_MODELS = ("shufflenet_v2_x0_5", "mnasnet0_5", "mobilenet_v3_small")


@pytest.mark.parametrize("bad, message", [
    ({"preset": "gpu"}, "preset must be one of"),
    ({"zoo": ("mlp-16-1", "rnn-4-1")}, "zoo entries must look like"),
    ({"zoo": ("mlp-0-1",)}, "zoo entries must look like"),
    ({"zoo": ("mlp-16-1",), "members": 1, "snapshots": (2,)}, "at least 3 models"),
    ({"members": 0}, "members must be a positive integer"),
    ({"snapshots": (0, 3)}, "snapshots must be a non-empty list of epochs >= 1"),
    ({"tent_lr": 0.0}, "tent_lr must be > 0"),
    ({"train_lr": -1.0}, "train_lr must be > 0"),
    ({"select_lrs": (0.01,)}, "select_lrs must hold at least two"),
    ({"image_size": 40}, r"image_size must be in \[8, 32\]"),
    ({"corruptions": ("gaussian_noise", "rain")}, r"unknown: \['rain'\]"),
    ({"severities": (0, 3)}, "severities must be"),
    ({"methods": ("tent", "shot")}, r"unknown: \['shot'\]"),
    ({"tta_batch": 0}, "tta_batch must be a positive integer"),
    ({"device": "tpu"}, "device must be one of"),
])
def test_bad_parameters_fail_at_config_time(bad, message):
    with pytest.raises(ValueError, match=message):
        chapter.Config(**bad)


@pytest.mark.parametrize("knobs, message", [
    ({"focus_shift": "fog-5"}, "focus_shift must be one of the run's shifts"),
    ({"severities": (3,)}, "focus_shift must be one of the run's shifts"),
    ({"weak_shift": "contrast-2"}, "weak_shift must be one of the run's shifts"),
])
def test_shifts_outside_the_run_fail_at_resolve(knobs, message):
    with pytest.raises(ValueError, match=message):
        chapter.Config(**knobs).resolve()


def _write_paper_fixtures(root, n=12, models=PAPER_MODELS):
    from torchvision.models import get_model

    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(exist_ok=True)
    labels = np.arange(n) % 10
    write_cifar10_batch(folder / "test_batch", rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), labels)
    for c in ("gaussian_noise", "contrast"):
        write_cifar10_c(root / "CIFAR-10-C", c, rng.integers(0, 256, (5, n, 32, 32, 3), dtype=np.uint8), labels)
    (root / MODELS_FOLDER).mkdir(exist_ok=True)
    for i, name in enumerate(models):
        torch.manual_seed(i)
        torch.save(get_model(name, weights=None, num_classes=10).state_dict(), root / MODELS_FOLDER / f"{name}.pt")


def _no_work(*a, **k):
    raise AssertionError("work started before the data and model checks")


def _paper_config(root, **kw):
    return chapter.Config(preset="paper", data_dir=str(root), corruptions=("gaussian_noise", "contrast"),
                          severities=(5,), models=PAPER_MODELS, n_test=12, tta_batch=6,
                          select_lrs=(0.001, 0.01), **kw)


def test_paper_preset_names_missing_data_then_models_before_any_work(monkeypatch, tmp_path):
    monkeypatch.setattr(experiments, "run_paper", _no_work)
    monkeypatch.setattr(experiments, "run_seed", _no_work)
    with pytest.raises(FileNotFoundError, match="needs data_dir"):
        chapter.run(chapter.Config(preset="paper"))
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py/test_batch.*CIFAR-10-C/gaussian_noise.npy"):
        chapter.run(_paper_config(tmp_path))
    _write_paper_fixtures(tmp_path, models=PAPER_MODELS[:1])  # data complete, two models missing
    with pytest.raises(FileNotFoundError, match=f"{MODELS_FOLDER}/mnasnet0_5.pt, {MODELS_FOLDER}/"
                       "mobilenet_v3_small.pt.*torchvision.models.get_model"):
        chapter.run(_paper_config(tmp_path))


def test_paper_path_runs_on_tiny_files_in_the_real_format(tmp_path):
    _write_paper_fixtures(tmp_path)
    result = chapter.run(_paper_config(tmp_path), progress=False)
    assert set(result.lines["shift"]) == {"gaussian_noise-5", "contrast-5"}
    assert len(result.models) == 2 * 4 * 3 and len(result.lines) == 2 * 4   # shifts x methods x models
    assert set(result.selection["lr"]) == {0.001, 0.01} and len(result.selection) == 2 * 2
    assert len(result.features) == 4 * 3                                    # focus shift: methods x models
    assert result.checks["max_change_frozen"].iloc[0] == 0 and result.checks["max_change_bn"].iloc[0] > 0
    assert result.models["acc_ood"].between(0, 1).all()
    assert all(c.holds is not None for c in result.claims)                  # the paper preset is judged


def test_smoke_preset_is_deterministic_and_not_judged():
    a = chapter.run(chapter.Config(preset="smoke"), progress=False)
    b = chapter.run(chapter.Config(preset="smoke"), progress=False)
    assert a.metrics == b.metrics
    assert all(c.holds is None for c in a.claims)
    assert [c.id for c in a.claims if c.kind == "finding"] == list(chapter.EXPECTED)
    assert set(a.lines["method"]) == {"plain", "bn_adapt", "tent", "eta"}


# ---- the claims' thresholds on synthetic metrics ---------------------------------------------------

def _metrics(plain_r2=0.8, tta_r2=0.99, acc_gain=0.1, resid_ratio=0.05, slope_gap=0.05, mae_ratio=0.2, regret=0.2):
    per = lambda v: [float(v)] * 5  # noqa: E731
    methods = ("bn_adapt", "tent", "eta")
    lines = lambda plain, after: {"plain": per(plain), **{m: per(after) for m in methods}}  # noqa: E731
    feats = {"mean_residual": lines(0.1, 0.1 * resid_ratio), "cov_residual": lines(0.2, 0.2 * resid_ratio),
             "offset": lines(0.7, 0.01), "slope": lines(0.9, 1.0)}
    return {
        "seeds": [0, 1, 2, 3, 4], "focus_shift": "gaussian_noise-5", "weak_shift": "contrast-5",
        "methods": list(methods),
        "focus": {"acc_r2": lines(plain_r2, tta_r2), "agr_r2": lines(plain_r2, tta_r2),
                  "acc_slope": lines(0.5, 1.0 + slope_gap), "mean_acc_ood": lines(0.6, 0.6 + acc_gain),
                  "mean_acc_id": lines(0.8, 0.8)},
        "weak": {"acc_r2": lines(0.1, tta_r2), "agr_r2": lines(0.1, tta_r2), "mean_acc_ood": lines(0.1, 0.5)},
        "features": feats,
        "mae": {e: {"plain": per(8.0), **{m: per(8.0 * mae_ratio) for m in methods}} for e in ("aline_s", "aline_d", "atc")},
        "regret": {"aline_s": per(regret), "aline_d": per(regret), "ac": per(2.0)},
        "acc_id_spread": per(80.0),
        "tent_change": {"max_change_frozen": per(0.0), "max_change_bn": per(0.1), "entropy_bn_adapt": per(1.0),
                        "entropy_tent": per(0.9)},
    }


def test_claim_judging_follows_the_thresholds():
    holds = {c.id: c.holds for c in judge_claims(_metrics())}
    assert all(holds.values()), holds
    holds = {c.id: c.holds for c in judge_claims(_metrics(plain_r2=0.97, acc_gain=-0.01, resid_ratio=0.6,
                                                          slope_gap=0.2, mae_ratio=0.6, regret=1.5))}
    assert not any(holds[k] for k in ("acl-strengthens", "agl-strengthens", "ood-accuracy-kept",
                                      "single-scaling", "theory-slope", "aline-improves",
                                      "select-without-labels")), holds
    assert holds["weak-shift-lines"] and holds["tent-only-bn"] and holds["zoo-spread"]
    m = _metrics()
    m["focus"]["acc_r2"]["eta"][0] = 0.81   # one method on one seed: 4/5 seeds still hold
    m["mae"]["aline_s"]["plain"][1] = None   # ALine refused: that seed fails, the others hold
    claims = {c.id: c for c in judge_claims(m)}
    assert claims["acl-strengthens"].seeds == (4, 5) and claims["acl-strengthens"].holds
    assert claims["aline-improves"].seeds == (4, 5) and "refused on 1 seed" in claims["aline-improves"].measured
    m["tent_change"]["max_change_frozen"][2] = 1e-6
    assert not {c.id: c.holds for c in judge_claims(m)}["tent-only-bn"]


# ---- the science at preset cpu, restated from the raw metrics ------------------------------------

def _holds(on_mean: bool, per_seed: list[bool]) -> bool:
    return bool(on_mean) and sum(per_seed) >= 0.8 * len(per_seed) - 1e-9


def _gain(block: dict, methods: list[str], i: int | None = None) -> float:
    """Smallest gain over the TTA methods (seed i, or on the seed means)."""
    pick = (lambda v: np.mean(v)) if i is None else (lambda v: v[i])  # noqa: E731
    return min(pick(block[m]) - pick(block["plain"]) for m in methods)


@pytest.mark.chapter
def test_the_science_at_preset_cpu_follows_from_the_raw_metrics():
    record = executed_chapter("tta-lines")
    assert record["params"]["preset"] == "cpu"
    m = record["metrics"]
    seeds, methods = m["seeds"], m["methods"]
    assert seeds == [0, 1, 2, 3, 4] and methods == ["bn_adapt", "tent", "eta"]
    holds = {c["id"]: c["holds"] for c in record["claims"]}
    n = range(len(seeds))

    for cid, col in (("acl-strengthens", "acc_r2"), ("agl-strengthens", "agr_r2")):
        block = m["focus"][col]
        assert holds[cid] == _holds(_gain(block, methods) >= 0.05, [_gain(block, methods, i) >= 0.05 for i in n])
    weak = m["weak"]
    per_seed = [min(_gain(weak["acc_r2"], methods, i), _gain(weak["agr_r2"], methods, i)) >= 0.05 for i in n]
    on_mean = min(_gain(weak["acc_r2"], methods), _gain(weak["agr_r2"], methods)) >= 0.05
    assert holds["weak-shift-lines"] == _holds(on_mean, per_seed)
    acc = m["focus"]["mean_acc_ood"]
    assert holds["ood-accuracy-kept"] == _holds(_gain(acc, methods) >= 0, [_gain(acc, methods, i) >= 0 for i in n])
    f = m["features"]
    ratio = lambda k, i: f[k]["tent"][i] / f[k]["plain"][i]  # noqa: E731
    per_seed = [max(ratio("mean_residual", i), ratio("cov_residual", i)) <= 0.5 for i in n]
    on_mean = max(np.mean(f[k]["tent"]) / np.mean(f[k]["plain"]) for k in ("mean_residual", "cov_residual")) <= 0.5
    assert holds["single-scaling"] == _holds(on_mean, per_seed)
    gap = [abs(a - b) for a, b in zip(f["slope"]["tent"], m["focus"]["acc_slope"]["tent"])]
    assert holds["theory-slope"] == _holds(np.mean(gap) <= 0.15, [g <= 0.15 for g in gap])
    mae = m["mae"]["aline_s"]
    ok = [p is not None and t is not None and t <= 0.5 * p for p, t in zip(mae["plain"], mae["tent"])]
    defined = lambda v: np.mean([x for x in v if x is not None])  # noqa: E731
    assert holds["aline-improves"] == _holds(defined(mae["tent"]) <= 0.5 * defined(mae["plain"]), ok)
    reg = m["regret"]["aline_s"]
    assert holds["select-without-labels"] == _holds(defined(reg) <= 1.0, [r is not None and r <= 1.0 for r in reg])
    # whatever the verdicts: TTA's direction on the seed means, and the checks' raw numbers
    assert np.mean(m["focus"]["acc_r2"]["tent"]) > np.mean(m["focus"]["acc_r2"]["plain"])
    assert np.mean(m["focus"]["mean_acc_ood"]["bn_adapt"]) > np.mean(m["focus"]["mean_acc_ood"]["plain"])
    assert max(m["tent_change"]["max_change_frozen"]) == 0 and min(m["tent_change"]["max_change_bn"]) > 0
    assert min(m["acc_id_spread"]) >= 20
