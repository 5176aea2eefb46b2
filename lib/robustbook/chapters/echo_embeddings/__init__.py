"""Chapter 05 · Repetition improves language model embeddings (Springer et al., 2024).

Glue only: ``Config`` -> ``run`` -> ``Result`` (tables, metrics, claims), plus plot functions in
``plots``. Templates, span bookkeeping, batching, pooling and metrics live in
``robustbook.embeddings``; the synthetic language in ``robustbook.data.synthetic_language``; the
tiny GPT-2 in ``robustbook.models.tiny_lm``; mteb plumbing in ``robustbook.embeddings.mteb_eval``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from robustbook.book.results import Claim, mean_std
from robustbook.book.widgets import is_static
from robustbook.chapters.echo_embeddings import benchmark, experiments
from robustbook.chapters.echo_embeddings.claims import judge_claims, metrics_from
from robustbook.chapters.echo_embeddings.config import PRESETS, Config, Settings
from robustbook.embeddings.bidirectional import load_minilm
from robustbook.embeddings.loading import load_causal_lm
from robustbook.runtime import choose_device, seed_everything, set_threads

SLUG = "echo-embeddings"
__all__ = ["PRESETS", "SLUG", "Config", "Result", "Settings", "ablation_table", "mteb_table", "run"]
TASK_LABELS = {"late_triplet": "late triplet (early span)", "concept_probe": "concept probe (early span)",
               "hard_triplet": "hard triplet (whole)", "sts_spearman": "STS Spearman (whole)",
               "retrieval_ndcg10": "retrieval nDCG@10 (whole)"}


@dataclass
class Result:
    settings: Settings
    lm_name: str                   # the causal LM: "tiny GPT-2" (cpu, smoke) or model_name (paper)
    scores: pd.DataFrame           # per seed: model, strategy, pooling, task, score
    diagnostics: pd.DataFrame      # per seed, late triplet: strategy, pooling, tie_fraction, max_abs_margin
    train_loss: list[float]        # final-epoch LM loss per seed (empty at paper)
    similarity: dict               # {model: {span: {strategy: (n, n) cosine matrix}}}, first seed
    mteb_check: dict | None        # {"mteb": {strategy: {task: score}}, "ours": {...}} (first seed)
    paper_mteb: pd.DataFrame | None  # paper preset: task, strategy, pooling, score
    lm: tuple = ()                 # (model, tokenizer) of the first seed, for the explorer
    minilm: tuple = ()             # (model, tokenizer) of all-MiniLM-L6-v2 when used
    metrics: dict = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)


def _causal_lm(s: Settings, seed: int, device: torch.device, pretrained: tuple, progress: bool):
    """(model, tokenizer, templates, final loss or None) for one seed."""
    if not s.train_lm:
        return (*pretrained, experiments.PRETRAINED_TEMPLATES, None)
    model, tokenizer, loss = experiments.train_tiny_lm(
        s.n_train, s.epochs, s.lr, s.batch_size, s.repeat_fraction, s.n_layer, s.n_embd, seed, device,
        progress=f"tiny GPT-2, seed {seed}" if progress else False)
    return model, tokenizer, experiments.TINY_TEMPLATES, loss


def _score_seeds(s: Settings, device: torch.device, pretrained: tuple, minilm: tuple, progress: bool):
    lm_name = experiments.TINY_LM if s.train_lm else s.model_name
    scores, diagnostics, losses, first = [], [], [], None
    for seed in s.seeds:
        seed_everything(seed)
        model, tokenizer, templates, loss = _causal_lm(s, seed, device, pretrained, progress)
        sets = experiments.eval_sets(s.n_eval, seed)
        embedder = experiments.lm_embedder(model, tokenizer, templates, max_tokens=s.max_tokens)
        rows, diag = experiments.score_sets(embedder, sets)
        scores.append(experiments.frame(rows, seed=seed, model=lm_name))
        diagnostics.append(experiments.frame(diag, seed=seed))
        if minilm and seed == s.seeds[0]:  # a fixed pretrained model: one seed's sentences suffice
            ref_rows, _ = experiments.score_sets(experiments.minilm_embedder(*minilm), sets)
            scores.append(experiments.frame(ref_rows, seed=seed, model=experiments.MINILM))
        if loss is not None:
            losses.append(loss)
        first = first or (model, tokenizer, embedder, sets)
    return lm_name, pd.concat(scores, ignore_index=True), pd.concat(diagnostics, ignore_index=True), losses, first


def run(config: Config, progress: bool | None = None) -> Result:
    """Run the chapter at ``config``'s preset and judge the claims. ``progress`` (default: on,
    except when the book is being built) shows tqdm bars while the tiny LMs train."""
    s = config.resolve()
    progress = not is_static() if progress is None else progress
    set_threads(s.threads)
    seed_everything(s.seed)
    device = choose_device(s.device)
    pretrained, tasks = (), []
    if s.preset == "paper":  # fail on a missing model or unknown task before any work
        path, tasks = benchmark.check_paper_inputs(s.model_name, s.data_dir, s.mteb_task_names)
        pretrained = load_causal_lm(path, device)
    minilm = load_minilm() if s.minilm else ()
    lm_name, scores, diagnostics, losses, (model, tokenizer, embedder, sets) = _score_seeds(
        s, device, pretrained, minilm, progress)
    similarity = {lm_name: experiments.similarity_structure(embedder, s.seed)}
    if minilm:
        similarity[experiments.MINILM] = experiments.similarity_structure(
            experiments.minilm_embedder(*minilm), s.seed)
    result = Result(settings=s, lm_name=lm_name, scores=scores, diagnostics=diagnostics,
                    train_loss=losses, similarity=similarity, mteb_check=None, paper_mteb=None,
                    lm=(model, tokenizer), minilm=minilm)
    if s.mteb_check and s.train_lm:
        first = scores[(scores["seed"] == s.seed) & (scores["model"] == lm_name) & (scores["pooling"] == "mean")]
        ours = {st: dict(zip(g["task"], g["score"])) for st, g in first.groupby("strategy")}
        mteb_scores = benchmark.mteb_check(model, tokenizer, sets)
        result.mteb_check = {"mteb": mteb_scores,
                             "ours": {st: {t: ours[st][t] for t in mteb_scores[st]} for st in mteb_scores}}
    if s.preset == "paper":
        result.paper_mteb = pd.DataFrame(benchmark.paper_mteb(model, tokenizer, tasks, s.model_name,
                                                              s.max_tokens))
    result.metrics = metrics_from(result)
    result.claims = judge_claims(result.metrics, s.preset)
    return result


def ablation_table(result: Result) -> pd.DataFrame:
    """Every task for every model, strategy and pooling: mean ± std over seeds (accuracies and
    correlations on a 0-1 scale). Early-span tasks pool the early words only."""
    rows = []
    for (model, strategy, pooling), g in result.scores.groupby(["model", "strategy", "pooling"], sort=False):
        row = {"model": model, "embedding": strategy, "pooling": pooling}
        for task, label in TASK_LABELS.items():
            row[label] = mean_std(g[g["task"] == task].sort_values("seed")["score"], digits=3)
        rows.append(row)
    return pd.DataFrame(rows).set_index(["model", "embedding", "pooling"])


def mteb_table(result: Result) -> pd.DataFrame | None:
    """First seed, mean pooling: our metrics vs the same embeddings scored by mteb."""
    if result.mteb_check is None:
        return None
    rows = [{"embedding": st, "task": task, "ours": result.mteb_check["ours"][st][task], "mteb": value}
            for st, tasks in result.mteb_check["mteb"].items() for task, value in tasks.items()]
    frame = pd.DataFrame(rows)
    return frame.assign(difference=frame["mteb"] - frame["ours"]).set_index(["embedding", "task"])


def tie_table(result: Result) -> pd.DataFrame:
    """Early-span triplets of the causal LM: share of exact ties and the largest
    |cos(q, s+) - cos(q, s-)|, over all seeds."""
    g = result.diagnostics.groupby(["strategy", "pooling"])
    return pd.DataFrame({"ties (share of triplets)": g["tie_fraction"].mean(),
                         "max |cos(q,s+) - cos(q,s-)|": g["max_abs_margin"].max()})


def closing_note(result: Result) -> str:
    """A Markdown summary of this run's headline numbers (mean ± std over seeds), from the data."""
    lm = result.metrics["scores"][result.lm_name]

    def cell(strategy: str, task: str, pooling: str = "mean") -> str:
        return mean_std(lm[strategy][pooling][task], digits=3)

    seeds = result.settings.seeds
    lines = [f"**This run** ({result.lm_name}, preset `{result.settings.preset}`, seeds "
             f"{seeds[0]}–{seeds[-1]}, mean ± std over seeds):",
             f"- early-span triplet: classical {cell('classical', 'late_triplet')}, echo "
             f"{cell('echo', 'late_triplet')} (last-token: {cell('echo', 'late_triplet', 'last')});",
             f"- early-span probe of the late concept: classical {cell('classical', 'concept_probe')}, "
             f"echo {cell('echo', 'concept_probe')} (chance 0.125);",
             f"- whole-sentence hard triplet: classical {cell('classical', 'hard_triplet')}, echo "
             f"{cell('echo', 'hard_triplet')}; STS Spearman: classical {cell('classical', 'sts_spearman')}, "
             f"echo {cell('echo', 'sts_spearman')}."]
    holds = {c.id: c.holds for c in result.claims}
    lines.append("- verdicts: " + ", ".join(f"`{k}` {'holds' if v else 'does not hold' if v is False else 'not judged'}"
                                            for k, v in holds.items()) + ".")
    return "\n".join(lines)
