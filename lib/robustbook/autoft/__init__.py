"""AutoFT (Choi et al., 2024): loss terms and the weighted objective (``losses``), fine-tuning
and WiSE-FT (``finetune``), the Optuna search (``search``), the fine-tuned models (``models``)."""

from robustbook.autoft.finetune import FinetuneRun, batch_indices, finetune, predict, score, wise_ft
from robustbook.autoft.losses import TERMS, WeightedObjective
from robustbook.autoft.search import Hyper, SearchSpace, best_hyper, run_search, suggest, trials_frame

__all__ = ["TERMS", "FinetuneRun", "Hyper", "SearchSpace", "WeightedObjective", "batch_indices",
           "best_hyper", "finetune", "predict", "run_search", "score", "suggest", "trials_frame",
           "wise_ft"]
