"""AutoFT's search: Optuna's TPE sampler over loss-term weights, lr, weight decay and seed, each
trial scored by a caller-supplied fine-tune-and-validate function (Choi et al., 2024, Sec. 3, Alg. 1).

The space (the official code's): every searched term weight log-uniform in [1e-4, 10] with the
``ce`` weight fixed to 1; lr log-uniform in [lr0·10^-2, lr0·10^2]; weight decay uniform in
[0, 1]; the fine-tuning seed an integer in [0, 10]. ``SearchSpace(terms=())`` searches
(lr, weight decay, seed) only, for plain cross-entropy.

Resumable and deterministic: with ``storage="sqlite:///file.db"`` the study lives in an SQLite
file and ``run_search`` only runs the trials still missing, so an interrupted search picks up
where it stopped. The sampler's random state is re-seeded from (seed, trial number) before every
trial, so a resumed search proposes exactly what an uninterrupted one would have. ``n_jobs > 1``
(threads in one process) or several processes sharing one storage run trials in parallel —
Optuna's own mechanisms — at the price of that determinism (trial order then depends on timing).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import optuna
import pandas as pd

from robustbook.autoft.losses import TERMS

WEIGHT_RANGE = (1e-4, 10.0)


@dataclass(frozen=True)
class SearchSpace:
    """Which term weights are searched (``ce`` is always 1), around which base lr ``lr0``."""

    terms: tuple[str, ...] = ("hinge", "entropy", "dcm", "l1init", "l1zero", "l2init", "l2zero")
    lr0: float = 1e-3
    lr_factors: tuple[float, float] = (1e-2, 1e2)
    weight_decay: tuple[float, float] = (0.0, 1.0)
    seeds: tuple[int, int] = (0, 10)

    def __post_init__(self) -> None:
        bad = [t for t in self.terms if t not in TERMS or t == "ce"]
        if bad:
            raise ValueError(f"searchable terms are {TERMS[1:]}; got {bad}")


@dataclass(frozen=True)
class Hyper:
    """One point of the space: loss weights (``ce`` included), lr, weight decay, seed."""

    weights: dict[str, float] = field(default_factory=lambda: {"ce": 1.0})
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0


def suggest(trial: optuna.Trial, space: SearchSpace) -> Hyper:
    """Draw a ``Hyper`` from ``space`` through ``trial`` (parameter names: ``w_<term>``, ``lr``,
    ``weight_decay``, ``seed``)."""
    weights = {"ce": 1.0}
    for term in space.terms:
        weights[term] = trial.suggest_float(f"w_{term}", *WEIGHT_RANGE, log=True)
    lo, hi = (space.lr0 * f for f in space.lr_factors)
    return Hyper(weights, trial.suggest_float("lr", lo, hi, log=True),
                 trial.suggest_float("weight_decay", *space.weight_decay),
                 trial.suggest_int("seed", *space.seeds))


def hyper_from_params(params: dict, space: SearchSpace) -> Hyper:
    """The ``Hyper`` of a finished trial's ``params``."""
    weights = {"ce": 1.0, **{t: params[f"w_{t}"] for t in space.terms}}
    return Hyper(weights, params["lr"], params["weight_decay"], int(params["seed"]))


class ReseededTPE(optuna.samplers.TPESampler):
    """TPE whose random state is a function of (seed, trial number): resuming a search from its
    storage proposes the same points as running it in one go."""

    def __init__(self, seed: int, n_startup_trials: int = 10) -> None:
        super().__init__(seed=seed, n_startup_trials=n_startup_trials)
        self._base_seed = seed

    def before_trial(self, study: optuna.Study, trial) -> None:
        state = np.random.SeedSequence([self._base_seed, trial.number]).generate_state(1)[0]
        self._rng.rng.seed(int(state))                     # TPE's own draws
        self._random_sampler._rng.rng.seed(int(state))     # startup (random) trials
        super().before_trial(study, trial)


Evaluate = Callable[[Hyper], tuple[float, dict]]


def run_search(evaluate: Evaluate, space: SearchSpace, *, n_trials: int, seed: int,
               storage: str | None = None, study_name: str = "autoft", n_jobs: int = 1,
               n_startup_trials: int = 10, progress: bool = False) -> optuna.Study:
    """Maximise ``evaluate(hyper)[0]`` (the validation score) over ``space`` with TPE for
    ``n_trials`` trials in all; ``evaluate(hyper)[1]`` (numbers the search never sees, e.g.
    held-out test scores for a figure) is stored as trial user attributes. With ``storage`` an
    existing study of that name is loaded and only the missing trials run."""
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name, storage=storage, direction="maximize",
                                sampler=ReseededTPE(seed, n_startup_trials), load_if_exists=True)
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)

    def objective(trial: optuna.Trial) -> float:
        value, extras = evaluate(suggest(trial, space))
        for key, v in extras.items():
            trial.set_user_attr(key, v)
        return value if math.isfinite(value) else float("-inf")

    if n_trials > done:
        study.optimize(objective, n_trials=n_trials - done, n_jobs=n_jobs, show_progress_bar=progress)
    return study


def best_hyper(study: optuna.Study, space: SearchSpace) -> Hyper:
    """The best completed trial's ``Hyper`` (ties: the earliest trial, Optuna's rule)."""
    return hyper_from_params(study.best_trial.params, space)


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per completed trial: number, value, params and user attributes (no timings)."""
    rows = [{"trial": t.number, "value": t.value, **t.params, **t.user_attrs}
            for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return pd.DataFrame(rows)
