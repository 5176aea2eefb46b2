"""The AutoFT search driver: the space, determinism with a seed, resuming from SQLite storage."""

from __future__ import annotations

import math

import optuna
import pytest

from robustbook.autoft import SearchSpace, best_hyper, run_search, trials_frame
from robustbook.autoft.search import Hyper, suggest


def _evaluate(h: Hyper) -> tuple[float, dict]:
    """A cheap, asymmetric score of a point: best near lr = 3e-3, hinge weight 0.1, wd 0.25."""
    value = -(math.log10(h.lr / 3e-3)) ** 2 - (h.weight_decay - 0.25) ** 2
    value -= 0.1 * (math.log10(h.weights.get("hinge", 1e-4) / 0.1)) ** 2
    return value, {"test": value / 2, "seed_used": h.seed}


def _points(study):
    return [(t.number, tuple(sorted(t.params.items())), t.value) for t in study.trials]


def test_space_bounds_and_fixed_ce():
    space = SearchSpace(terms=("hinge", "l2init"), lr0=1e-3)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        h = suggest(study.ask(), space)
        assert h.weights["ce"] == 1.0 and set(h.weights) == {"ce", "hinge", "l2init"}
        assert 1e-5 <= h.lr <= 1e-1 and 0 <= h.weight_decay <= 1 and 0 <= h.seed <= 10
        assert all(1e-4 <= h.weights[t] <= 10 for t in ("hinge", "l2init"))
    lr_only = suggest(study.ask(), SearchSpace(terms=()))
    assert lr_only.weights == {"ce": 1.0}
    with pytest.raises(ValueError, match="searchable terms"):
        SearchSpace(terms=("ce",))
    with pytest.raises(ValueError, match="searchable terms"):
        SearchSpace(terms=("flyp",))


def test_same_seed_same_search_other_seed_differs():
    space = SearchSpace(terms=("hinge",))
    a = run_search(_evaluate, space, n_trials=14, seed=5, n_startup_trials=4)
    b = run_search(_evaluate, space, n_trials=14, seed=5, n_startup_trials=4)
    c = run_search(_evaluate, space, n_trials=14, seed=6, n_startup_trials=4)
    assert _points(a) == _points(b)
    assert _points(a) != _points(c)
    frame = trials_frame(a)
    assert len(frame) == 14 and {"lr", "w_hinge", "test", "seed_used"} <= set(frame.columns)
    assert (frame["test"] == frame["value"] / 2).all()   # user attributes stored per trial
    best = best_hyper(a, space)
    assert _evaluate(best)[0] == pytest.approx(frame["value"].max())


def test_tpe_improves_on_random_startup():
    study = run_search(_evaluate, SearchSpace(terms=("hinge",)), n_trials=40, seed=0, n_startup_trials=10)
    values = trials_frame(study)["value"]
    assert values[10:].max() > values[:10].max()


def test_resumed_search_equals_uninterrupted(tmp_path):
    space = SearchSpace(terms=("hinge", "dcm"))
    whole = run_search(_evaluate, space, n_trials=12, seed=3, n_startup_trials=4)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    run_search(_evaluate, space, n_trials=5, seed=3, storage=storage, study_name="s", n_startup_trials=4)
    # interrupted after 5 trials; a new process loads the study from the file and runs 7 more
    resumed = run_search(_evaluate, space, n_trials=12, seed=3, storage=storage, study_name="s",
                         n_startup_trials=4)
    assert len(resumed.trials) == 12
    assert _points(resumed) == _points(whole)
    again = run_search(_evaluate, space, n_trials=12, seed=3, storage=storage, study_name="s")
    assert len(again.trials) == 12       # nothing left to run


def test_parallel_threads_run_every_trial():
    study = run_search(_evaluate, SearchSpace(terms=()), n_trials=8, seed=0, n_jobs=2)
    assert len(trials_frame(study)) == 8


def test_bad_trial_count():
    with pytest.raises(ValueError, match="n_trials"):
        run_search(_evaluate, SearchSpace(), n_trials=0, seed=0)
