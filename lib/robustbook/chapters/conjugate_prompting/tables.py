"""Chapter 10's tables."""

from __future__ import annotations

import pandas as pd

from robustbook.book.results import mean_std
from robustbook.chapters.conjugate_prompting.result import Result

MODELS = ("pretrained", "fine-tuned", "bayes mixture", "bayes ridge", "bayes discrete")


def late_losses(result: Result, c: float = 1.0, ft_steps: int | None = None) -> pd.DataFrame:
    """Per seed, model and family: MSE averaged over queries with >= k/2 in-context examples
    (the fine-tuned model at ``ft_steps``, default the last; the transformers at input scale ``c``)."""
    s, d = result.settings, result.losses
    ft = s.ft_steps if ft_steps is None else ft_steps
    keep = (d["examples"] >= s.k // 2) & ((d["model"] != "fine-tuned") | (d["ft_steps"] == ft))
    keep &= (d["c"] == c) | d["model"].str.startswith("bayes")
    return d[keep].groupby(["model", "family", "seed"], as_index=False)["mse"].mean()


def loss_table(result: Result) -> pd.DataFrame:
    """Mean ± std over seeds of the late-query MSE, models x task family (plain prompts)."""
    late = late_losses(result)
    rows = {m: {f: mean_std(g["mse"], digits=3) for f, g in late[late["model"] == m].groupby("family")}
            for m in MODELS}
    return pd.DataFrame(rows).T.rename_axis("model")


def implied_prior_table(result: Result) -> pd.DataFrame:
    """Implied P(discrete) on continuous prompts, per seed, pretrained and at each fine-tuning step."""
    m = result.models
    table = m.pivot_table(index=["model", "ft_steps"], columns="seed", values="implied_prior")
    return table.sort_index(level="ft_steps").rename_axis(columns="seed")


def timing_table(result: Result) -> pd.DataFrame:
    """Wall seconds of pretraining and of the whole fine-tuning, per seed."""
    m = result.models.assign(stage=lambda f: f["model"].map({"pretrained": "pretraining", "fine-tuned": "fine-tuning"}))
    return m.groupby(["seed", "stage"])["seconds"].sum().unstack("stage").round(1)


def llm_table(result: Result) -> pd.DataFrame:
    """Paper preset: ICL accuracy per model and task (rows) and prompt language (columns)."""
    if result.llm.empty:
        return pd.DataFrame({"note": ["LLM half runs at preset paper only (GPU, model folders under data_dir)"]})
    return result.llm.pivot_table(index=["model", "task"], columns="language", values="icl_accuracy")
