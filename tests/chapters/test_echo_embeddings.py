"""Chapter 05 echo-embeddings: the contract, bad input, the paper path (missing model, a local
causal LM end to end through mteb), determinism, nbval, and the claims at preset cpu (from the
results JSON of the one cpu execution, see conftest.executed_chapter).

The claim thresholds below restate the chapter's own (robustbook/chapters/echo_embeddings/claims.py)
from the raw metrics, so a bug in the chapter's judging cannot make this test pass."""


import numpy as np
import pytest
import torch

from robustbook.chapters import echo_embeddings as chapter
from robustbook.chapters.echo_embeddings import benchmark, experiments
from robustbook.chapters.echo_embeddings.claims import judge_claims
from tests.conftest import executed_chapter

pytestmark = pytest.mark.xdist_group("echo-embeddings")
WHOLE_TASKS = ("hard_triplet", "sts_spearman", "retrieval_ndcg10")


@pytest.mark.parametrize("bad, message", [
    ({"preset": "gpu"}, "preset must be one of"),
    ({"device": "tpu"}, "device must be one of"),
    ({"n_seeds": 0}, "n_seeds must be a positive integer"),
    ({"n_eval": 5}, "n_eval must be >= 20"),
    ({"lr": 0.0}, r"lr must be in \(0, 1\]"),
    ({"repeat_fraction": 1.5}, r"repeat_fraction must be in \[0, 1\]"),
    ({"n_embd": 30}, "n_embd must be a positive multiple of 4"),
    ({"threads": -1}, "threads must be >= 0"),
    ({"model_name": " "}, "model_name must not be empty"),
    ({"preset": "paper", "mteb_tasks": ""}, "mteb_tasks must name at least one"),
])
def test_bad_parameters_fail_at_config_time(bad, message):
    with pytest.raises(ValueError, match=message):
        chapter.Config(**bad)


def test_paper_preset_without_the_model_fails_before_any_work(monkeypatch, tmp_path):
    def no_work(*a, **k):
        raise AssertionError("work started before the model check")

    for module, name in ((experiments, "train_tiny_lm"), (chapter, "load_minilm"), (chapter, "load_causal_lm")):
        monkeypatch.setattr(module, name, no_work)
    with pytest.raises(FileNotFoundError, match="nobody/no-such-model.*not found on disk"):
        chapter.run(chapter.Config(preset="paper", model_name="nobody/no-such-model", data_dir=str(tmp_path)))


def _save_local_causal_lm(folder):
    model, tokenizer, _ = experiments.train_tiny_lm(256, 1, 5e-3, 64, 0.5, 1, 32, 0, torch.device("cpu"))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.mark.slow
def test_paper_path_runs_a_local_causal_lm_through_mteb(monkeypatch, tmp_path):
    _save_local_causal_lm(tmp_path / "org" / "tiny-lm")
    with pytest.raises(ValueError, match="mteb_tasks"):
        benchmark.check_paper_inputs("org/tiny-lm", str(tmp_path), ["NoSuchMTEBTask123"])
    # Real MTEB tasks download their data; offline, stand in two in-memory tasks of the same kinds.
    sets = experiments.eval_sets(30, 5)
    monkeypatch.setattr("robustbook.embeddings.mteb_eval.mteb_tasks", lambda names: benchmark.local_tasks(sets))
    cfg = chapter.Config(preset="paper", model_name="org/tiny-lm", data_dir=str(tmp_path), n_eval=30,
                         minilm=False, mteb_tasks="STSBenchmark,SciFact", device="cpu")
    result = chapter.run(cfg, progress=False)
    assert result.settings.train_lm is False and result.lm_name == "org/tiny-lm" and result.train_loss == []
    assert set(result.paper_mteb["strategy"]) == {"classical", "echo"}
    assert set(result.paper_mteb["task"]) == {benchmark.STS_TASK, benchmark.RETRIEVAL_TASK}
    claims = {c.id: c.holds for c in result.claims}
    assert set(claims) == {"causal-limit", "echo-sees-late", "probe-late-concept", "whole-sentence-gain",
                           "mteb-zero-shot-gain"}
    assert all(isinstance(v, bool) for v in claims.values())  # the paper preset is judged
    assert claims["causal-limit"]  # holds for any causal LM, trained or not


def test_smoke_preset_is_deterministic_and_not_judged():
    a = chapter.run(chapter.Config(preset="smoke"), progress=False)
    b = chapter.run(chapter.Config(preset="smoke"), progress=False)
    assert a.metrics == b.metrics
    assert all(c.holds is None for c in a.claims)
    assert set(a.scores["task"]) == set(experiments.TASKS)
    assert set(a.scores["model"]) == {experiments.TINY_LM, experiments.MINILM}


def _mean(values) -> float:
    return float(np.mean(values))


@pytest.mark.chapter
def test_claims_hold_at_preset_cpu():
    record = executed_chapter("echo-embeddings")
    assert record["params"]["preset"] == "cpu"
    m = record["metrics"]
    assert len(m["seeds"]) >= 3
    lm = m["scores"][m["causal_lm"]]
    diag = m["late_triplet_diagnostics"]
    for pooling in ("mean", "last"):  # 1: classical early-span embeddings tie (causal mask)
        assert abs(_mean(lm["classical"][pooling]["late_triplet"]) - 0.5) <= 0.02
        assert diag[f"classical/{pooling}"]["max_abs_margin"] < 1e-5
    assert _mean(lm["echo"]["mean"]["late_triplet"]) >= 0.75  # 2: echo sees the late words
    assert _mean(lm["classical"]["mean"]["concept_probe"]) <= 1 / 8 + 0.10  # 3: probe
    assert _mean(lm["echo"]["mean"]["concept_probe"]) >= 0.80
    # 4: the downstream claim is judged, whichever way it goes (at this scale it does not hold)
    gain = all(_mean(lm["echo"]["mean"][t]) >= _mean(lm["classical"]["mean"][t]) for t in WHOLE_TASKS)
    assert [c["holds"] for c in record["claims"]] == [True, True, True, gain]
    check = m["mteb_check"]  # mteb's scores of the same embeddings agree with ours
    for strategy, tasks in check["mteb"].items():
        for task, value in tasks.items():
            assert abs(value - check["ours"][strategy][task]) < 1e-4, (strategy, task)


def _metrics(echo_late: float, echo_probe: float, echo_whole: float, tie_margin: float = 0.0) -> dict:
    def tasks(late, probe, whole):
        return {"late_triplet": [late] * 3, "concept_probe": [probe] * 3,
                **{t: [whole] * 3 for t in WHOLE_TASKS}}
    lm = {"classical": {p: tasks(0.5, 0.12, 0.9) for p in ("mean", "last")},
          "echo": {p: tasks(echo_late, echo_probe, echo_whole) for p in ("mean", "last")}}
    diag = {f"{s}/{p}": {"tie_fraction": [1.0] * 3, "max_abs_margin": tie_margin}
            for s in ("classical", "echo") for p in ("mean", "last")}
    return {"causal_lm": "lm", "scores": {"lm": lm}, "late_triplet_diagnostics": diag, "paper_mteb": None}


def test_claim_judging_follows_the_thresholds():
    holds = {c.id: c.holds for c in judge_claims(_metrics(0.9, 0.95, 0.95), "cpu")}
    assert holds == {"causal-limit": True, "echo-sees-late": True, "probe-late-concept": True,
                     "whole-sentence-gain": True}
    holds = {c.id: c.holds for c in judge_claims(_metrics(0.7, 0.7, 0.5, tie_margin=1e-3), "cpu")}
    assert holds == {"causal-limit": False, "echo-sees-late": False, "probe-late-concept": False,
                     "whole-sentence-gain": False}
    assert all(c.holds is None for c in judge_claims(_metrics(0.9, 0.95, 0.95), "smoke"))
    paper = {**_metrics(0.9, 0.95, 0.95), "paper_mteb": {"classical": {"A": 0.4}, "echo": {"A": 0.5}}}
    assert judge_claims(paper, "paper")[-1].holds is True
