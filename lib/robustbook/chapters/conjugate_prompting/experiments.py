"""Chapter 10's named steps: pretrain on the task mixture, fine-tune on the discrete family,
measure in-context loss against the Bayes-optimal predictors, sweep conjugate prompts.
Algorithms live in ``robustbook.icl``; this module only wires them per seed."""

from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import torch

from robustbook.book.chapter import derive_seed, generator
from robustbook.icl.bayes import mixture_predictions
from robustbook.icl.conjugate import conjugate_predict, scale_inputs, unscale_inputs
from robustbook.icl.model import InContextRegressor, predict, train_regressor
from robustbook.icl.tasks import Prompts, sample_prompts, task_pool

FAMILIES = {"continuous": 0.0, "discrete": 1.0}
PRIOR_GRID = tuple(np.round(np.linspace(0.0, 1.0, 21), 2))


def eval_sets(s, pool: torch.Tensor, seed: int) -> dict[str, Prompts]:
    """Held-out prompts per family (independent stream from training)."""
    return {name: sample_prompts(s.n_eval, s.k, pool, p_discrete=p, sigma=s.sigma,
                                 generator=generator(seed, "eval", i))
            for i, (name, p) in enumerate(FAMILIES.items())}


def _mse_rows(pred: torch.Tensor, p: Prompts, **keys) -> list[dict]:
    """One row per number of in-context examples j (0..k-1): MSE of predicting y_{j+1}."""
    mse = ((pred - p.y) ** 2).mean(0)
    return [{**keys, "examples": j, "mse": float(v)} for j, v in enumerate(mse)]


def bayes_rows(s, pool: torch.Tensor, sets: dict[str, Prompts], seed: int) -> list[dict]:
    """Bayes-optimal losses: ridge (continuous prior), discrete-pool posterior, pretraining mixture."""
    rows = []
    for family, p in sets.items():
        for name, prior in (("bayes ridge", 0.0), ("bayes discrete", 1.0), ("bayes mixture", s.p_discrete)):
            pred = mixture_predictions(p.x.double(), p.y.double(), pool.double(), s.sigma, prior).float()
            rows += _mse_rows(pred, p, seed=seed, model=name, family=family, c=1.0, ft_steps=0)
    return rows


def model_rows(s, model: InContextRegressor, sets: dict[str, Prompts], seed: int, name: str,
               ft_steps: int, cs: tuple[float, ...], families: tuple[str, ...] = tuple(FAMILIES)) -> list[dict]:
    """Model losses per family for every conjugate scale ``c`` in ``cs`` (c = 1: the plain prompt)."""
    rows = []
    for family in families:
        p = sets[family]
        for c in cs:
            pred = conjugate_predict(lambda x, y: predict(model, x, y), p.x, p.y, c)
            rows += _mse_rows(pred, p, seed=seed, model=name, family=family, c=float(c), ft_steps=ft_steps)
    return rows


def ft_checkpoints(ft_steps: int) -> list[int]:
    """Fine-tuning steps at which the model is evaluated (for the explorer); the last is ``ft_steps``."""
    return sorted({n for n in (ft_steps // 10, ft_steps // 4, ft_steps // 2, ft_steps) if n > 0})


def prior_grid_predictions(s, p: Prompts, pool: torch.Tensor) -> torch.Tensor:
    """(len(PRIOR_GRID), B, k) Bayes mixture predictions for each prior P(discrete) on the grid."""
    x, y, w = p.x.double(), p.y.double(), pool.double()
    return torch.stack([mixture_predictions(x, y, w, s.sigma, q).float() for q in PRIOR_GRID])


def implied_prior(model: InContextRegressor, p: Prompts, grid_preds: torch.Tensor) -> float:
    """The P(discrete) whose Bayes mixture predictor is closest (mean squared distance over query
    positions with >= 1 example) to the model's predictions on prompts ``p``: the model's implicit
    task inference, read off on a grid of priors."""
    pred = predict(model, p.x, p.y)[:, 1:]
    dist = ((grid_preds[:, :, 1:] - pred) ** 2).mean(dim=(1, 2))
    return float(PRIOR_GRID[int(torch.argmin(dist))])


def run_seed(s, seed: int, device: torch.device, progress: bool) -> tuple[list[dict], list[dict]]:
    """One reported seed: pretrain, fine-tune in stages (checkpoints for the explorer), evaluate.
    Returns (loss rows, per-model summary rows with implied prior and wall times)."""
    pool = task_pool(s.n_tasks, s.dim, generator=generator(seed, "pool"))
    sets = eval_sets(s, pool, seed)
    model = InContextRegressor(s.dim, s.k, n_layer=s.n_layer, n_head=s.n_head, n_embd=s.n_embd,
                               seed=derive_seed(seed, "init")).to(device)
    started = time.perf_counter()
    train_regressor(model, _sampler(s, pool, s.p_discrete), steps=s.pretrain_steps, lr=s.lr,
                    generator=generator(seed, "pretrain"), progress=progress and f"pretrain seed {seed}")
    pretrain_s = time.perf_counter() - started
    grid = prior_grid_predictions(s, sets["continuous"], pool)
    rows = bayes_rows(s, pool, sets, seed) + model_rows(s, model, sets, seed, "pretrained", 0, s.c_grid)
    summary = [{"seed": seed, "model": "pretrained", "ft_steps": 0, "seconds": pretrain_s,
                "implied_prior": implied_prior(model, sets["continuous"], grid)}]
    tuned, done, g = copy.deepcopy(model), 0, generator(seed, "finetune")
    for stage in ft_checkpoints(s.ft_steps):
        started = time.perf_counter()
        train_regressor(tuned, _sampler(s, pool, 1.0), steps=stage - done, lr=s.ft_lr, generator=g,
                        warmup=0.0, progress=progress and f"fine-tune seed {seed}")
        done = stage
        families = tuple(FAMILIES) if stage == s.ft_steps else ("continuous",)  # explorer stages
        rows += model_rows(s, tuned, sets, seed, "fine-tuned", stage, s.c_grid, families)
        summary.append({"seed": seed, "model": "fine-tuned", "ft_steps": stage,
                        "seconds": time.perf_counter() - started,
                        "implied_prior": implied_prior(tuned, sets["continuous"], grid)})
    return rows, summary


def _sampler(s, pool: torch.Tensor, p_discrete: float):
    return lambda g: sample_prompts(s.batch_size, s.k, pool, p_discrete=p_discrete, sigma=s.sigma, generator=g)


def conjugate_round_trip_gap(s, seed: int) -> float:
    """Largest |answer(conjugate prompt) - answer(prompt)| and |s^{-1}(s(x)) - x| over the
    continuous evaluation prompts and the c grid (an exactness check of the transform)."""
    pool = task_pool(s.n_tasks, s.dim, generator=generator(seed, "pool"))
    p = eval_sets(s, pool, seed)["continuous"]
    gaps = []
    for c in s.c_grid:
        cx, _ = scale_inputs(p.x, p.y, c)
        implied_w = p.w / c                                          # weights the conjugate prompt implies
        gaps.append(float((torch.einsum("bkd,bd->bk", cx, implied_w) - torch.einsum("bkd,bd->bk", p.x, p.w)).abs().max()))
        gaps.append(float((unscale_inputs(cx, p.y, c)[0] - p.x).abs().max()))
    return max(gaps)


def all_seeds(s, device: torch.device, progress: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every reported seed: (losses, per-model summary) tables."""
    rows, summary = [], []
    for seed in s.seeds:
        r, m = run_seed(s, seed, device, progress)
        rows += r
        summary += m
    return pd.DataFrame(rows), pd.DataFrame(summary)
