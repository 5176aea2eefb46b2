"""Chapter 02 data-filtering-scaling: the contract, bad input, the paper path on shards the test
writes, determinism, nbval, and the claims at preset cpu (from the results JSON of the one cpu
execution, see conftest.executed_chapter).

The claims are re-derived below from the raw metrics (per-seed errors, fitted parameters,
predicted and measured errors) with the chapter's thresholds restated, so a bug in the chapter's
judging cannot make this test pass."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from robustbook.chapters import data_filtering_scaling as chapter
from robustbook.chapters.data_filtering_scaling import experiments, paper_clip
from robustbook.data.webdataset_shards import write_shard
from robustbook.scaling_laws import frontier
from tests.conftest import executed_chapter

pytestmark = pytest.mark.xdist_group("data-filtering-scaling")
SLUG = "data-filtering-scaling"


@pytest.mark.parametrize("bad, message", [
    ({"preset": "gpu"}, "preset must be one of"),
    ({"device": "tpu"}, "device must be one of"),
    ({"label_noise": (0.0, 1.0)}, r"label_noise must list >= 2 rates in \[0, 1\)"),
    ({"label_noise": (0.3, 0.1)}, "best bucket first"),
    ({"caption_noise": (0.0,)}, "caption_noise must list >= 2 rates"),
    ({"budgets": (1000, 500)}, "budgets must be at least 2 increasing positive integers"),
    ({"clip_budgets": (0, 10)}, "clip_budgets must be at least 2 increasing"),
    ({"clip_pools": (2, 4)}, "clip_pools must start at 1"),
    ({"clip_pools": (1, 5)}, "clip_pools go up to 5 buckets but caption_noise has 4"),
    ({"n_seeds": 0}, "n_seeds must be a positive integer"),
    ({"bucket_size": 2.5}, "bucket_size must be a positive integer"),
    ({"lr": 0.0}, "lr must be > 0"),
    ({"weight_decay": -1.0}, "weight_decay must be >= 0"),
    ({"threads": -1}, "threads must be >= 0"),
    ({"scale_tau": "yes"}, "scale_tau must be True or False"),
])
def test_bad_parameters_fail_at_config_time(bad, message):
    if "clip_pools" in bad and bad["clip_pools"] == (1, 5):
        bad = {**bad, "caption_noise": (0.0, 0.2, 0.4, 0.6)}
    with pytest.raises(ValueError, match=message):
        chapter.Config(**bad)


def test_lists_from_papermill_become_tuples():
    config = chapter.Config(budgets=[100, 200], label_noise=[0.0, 0.2])
    assert config.budgets == (100, 200) and config.label_noise == (0.0, 0.2)
    assert config.resolve().clip_model == "robustbook-tiny-clip"
    assert chapter.Config(preset="paper").resolve().clip_model == "ViT-B-32"


@pytest.mark.parametrize("data_dir, message", [(None, "needs data_dir"), ("/nonexistent", r"train/\*\.tar")])
def test_paper_preset_without_data_fails_before_any_training(monkeypatch, data_dir, message):
    def no_training(*a, **k):
        raise AssertionError("training started before the data check")

    monkeypatch.setattr(experiments, "sweep", no_training)
    with pytest.raises(FileNotFoundError, match=message):
        chapter.run(chapter.Config(preset="paper", data_dir=data_dir))


def _png(rng, size=32) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _write_paper_data(root, n_train=40, n_eval=6):
    rng = np.random.default_rng(0)
    for shard in range(2):
        write_shard(root / "train" / f"{shard:05d}.tar",
                    [{"__key__": f"{shard}{i:04d}", "png": _png(rng), "txt": f"a photo of a cat number {i}",
                      "json": {"clip_b32_similarity_score": float(rng.random())}}
                     for i in range(n_train // 2)])
    write_shard(root / "eval" / "00000.tar",
                [{"__key__": f"e{i:04d}", "png": _png(rng), "cls": i % 2} for i in range(n_eval)])
    (root / "eval" / "classnames.txt").write_text("cat\ndog\n")


def test_paper_data_check_names_what_is_missing(tmp_path):
    _write_paper_data(tmp_path)
    (tmp_path / "eval" / "classnames.txt").unlink()
    with pytest.raises(FileNotFoundError, match="classnames.txt"):
        paper_clip.check_paper_data(str(tmp_path))


@pytest.mark.slow
def test_paper_path_trains_and_evaluates_from_shards_it_writes(tmp_path):
    _write_paper_data(tmp_path)
    data = paper_clip.check_paper_data(str(tmp_path))
    assert len(data.train) == 2 and data.class_names == ["cat", "dog"] and len(data.templates) == 5
    buckets = paper_clip.bucket_of_scores(data.train)
    assert sorted(np.bincount(list(buckets.values()))) == [4, 4, 4, 4]  # deciles of 40: top 40% kept
    s = chapter.Config(preset="paper", data_dir=str(tmp_path), clip_model="robustbook-tiny-clip-bpe",
                       clip_budgets=(6, 12), clip_pools=(1, 2), clip_batch_size=4).resolve()
    assert s.clip_data == "webdataset" and s.clip_warmup == 500
    frame = paper_clip.paper_clip_runs(s, torch.device("cpu"), data)
    assert list(frame["m"]) == [1, 1, 2, 2] and list(frame["pool_size"]) == [4, 4, 8, 8]
    assert frame["accuracy"].between(0, 1).all()


def test_smoke_preset_is_deterministic_and_not_judged():
    a = chapter.run(chapter.Config(preset="smoke"))
    b = chapter.run(chapter.Config(preset="smoke"))
    drop = lambda m: {k: v for k, v in m.items() if k != "seconds"}  # noqa: E731
    assert drop(a.metrics) == drop(b.metrics)
    assert all(c.holds is None for c in a.claims)


# ---- claims at preset cpu, re-derived from the raw metrics -------------------------------------

def _widens(best):
    return best[0] == 1 and best[-1] > 1 and all(b >= a for a, b in zip(best, best[1:]))


def _best_pools(errors: dict, budgets, seeds) -> tuple[list[int], list[list[int]]]:
    """Seed-mean best pool per budget and each seed's best pool per budget (ties: narrower)."""
    pools = sorted(errors, key=int)
    grid = np.array([[errors[p][str(n)] for p in pools] for n in budgets])  # (budget, pool, seed)
    mean = [int(pools[i]) for i in grid.mean(axis=2).argmin(axis=1)]
    per_seed = [[int(pools[i]) for i in grid[:, :, k].argmin(axis=1)] for k in range(len(seeds))]
    return mean, per_seed


@pytest.mark.chapter
def test_claims_at_preset_cpu_follow_from_the_raw_metrics():
    record = executed_chapter(SLUG)
    assert record["params"]["preset"] == "cpu"
    m, verdict = record["metrics"], {c["id"]: c["holds"] for c in record["claims"]}
    assert len(m["seeds"]) >= 5 and len(m["clip"]["seeds"]) >= 2

    published = m["frontier"]["tau_scaled"]
    errors, best = frontier(published["budgets"], 12.8e6, 0.025, [-0.16, -0.125, -0.10, -0.085],
                            [6.73, 8.55, 5.27, 2.27], 0.1)
    assert published["best_m"] == best.tolist() and verdict["frontier-widens"] == _widens(best.tolist())

    mean_best, per_seed = _best_pools(m["pool_error"], m["budgets"], m["seeds"])
    assert mean_best == m["best_pool"]["mean"]
    wider = np.mean([b[-1] > b[0] for b in per_seed])
    assert verdict["best-pool-widens"] == (_widens(mean_best) and wider >= 0.8)

    fit = m["fit"]
    share = np.mean([np.argmin(f["b"]) == 0 for f in fit["per_seed"].values()])
    assert verdict["clean-most-negative-b"] == (int(np.argmin(fit["mean"]["b"])) == 0 and share >= 0.8)
    assert verdict["utility-decays"] == (fit["no_decay"]["rmse"] / fit["mean"]["rmse"] >= 1.5)

    pred = m["prediction"]
    agree, rhos = [], []
    for n in m["budgets"]:
        rows = [i for i, b in enumerate(pred["budget"]) if b == n]
        meas, predicted = np.array(pred["measured"])[rows], np.array(pred["predicted"])[rows]
        assert np.allclose(meas, [np.mean(m["pool_error"][str(p)][str(n)]) for p in np.array(pred["m"])[rows]])
        agree.append(meas.argmin() == predicted.argmin())
        rhos.append(np.corrcoef(meas.argsort().argsort(), predicted.argsort().argsort())[0, 1])
    assert verdict["mixtures-predicted"] == (np.mean(agree) >= 0.5 and np.mean(rhos) >= 0.5)

    clip = m["clip"]
    acc = {p: {n: [-a for a in v] for n, v in by_n.items()} for p, by_n in clip["accuracy"].items()}
    clip_best, _ = _best_pools(acc, clip["budgets"], clip["seeds"])
    assert verdict["clip-qqt"] == (clip_best[0] == 1 and clip_best[-1] > 1)
    assert all(v is True for v in verdict.values()), f"claims that do not hold at preset cpu: {verdict}"


def _metrics(b_clean=-0.4, agreement=0.6, clip_last=(0.7, 0.75)):
    budgets = [100, 200]
    return {
        "frontier": {"tau_scaled": {"budgets": [32e6, 640e6], "best_m": [1, 2]}},
        "best_pool": {"mean": [1, 3], "per_seed": {"0": [1, 3], "1": [1, 2]}},
        "fit": {"mean": {"b": [b_clean, -0.3], "tau": [1.0, 2.0], "rmse": 0.005},
                "no_decay": {"rmse": 0.02},
                "per_seed": {"0": {"b": [b_clean, -0.3]}, "1": {"b": [b_clean, -0.3]}}},
        "agreement": {"best_pool_agreement": agreement, "mean_spearman": 0.9, "mae_unions": 0.004},
        "clip": {"seeds": [0, 1], "budgets": budgets, "pools": [1, 2],
                 "accuracy": {"1": {"100": [0.5, 0.5], "200": [clip_last[0]] * 2},
                              "2": {"100": [0.3, 0.3], "200": [clip_last[1]] * 2}}},
    }


def test_claim_judging_follows_the_thresholds():
    from robustbook.chapters.data_filtering_scaling.claims import judge_claims

    assert all(c.holds for c in judge_claims(_metrics(), "cpu"))
    holds = {c.id: c.holds for c in judge_claims(_metrics(b_clean=-0.2, agreement=0.4, clip_last=(0.8, 0.7)),
                                                 "cpu")}
    assert holds == {"frontier-widens": True, "best-pool-widens": True, "clean-most-negative-b": False,
                     "utility-decays": True, "mixtures-predicted": False, "clip-qqt": False}
    assert all(c.holds is None for c in judge_claims(_metrics(), "smoke"))
