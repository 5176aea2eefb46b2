"""Chapter 05's parameters: ``Config`` (what a user sets) and ``Settings`` (resolved by preset).

``cpu`` trains a tiny GPT-2 from scratch on the synthetic language of
``robustbook.data.synthetic_language`` (training settings and claim thresholds chosen on tuning
seeds 100-109, never on the reported seeds). ``paper`` embeds with a pretrained causal LM read
from disk (the paper's Mistral-7B by default) using the paper's zero-shot templates, on the same
synthetic tasks and on MTEB tasks through the ``mteb`` package (Springer et al., 2024, Sec. 4-5).
"""

from __future__ import annotations

from dataclasses import dataclass

from robustbook.book.config import ChapterConfig, CommonSettings, require, require_positive_ints
from robustbook.embeddings.loading import resolve_model_path

DEFAULT_MTEB_TASKS = "STSBenchmark,SICK-R,SciFact,NFCorpus"


@dataclass(frozen=True)
class Settings(CommonSettings):
    """Every knob resolved to a concrete value (what ``run`` uses)."""

    n_train: int
    epochs: int
    lr: float
    n_eval: int
    repeat_fraction: float
    n_layer: int
    n_embd: int
    batch_size: int
    minilm: bool
    mteb_check: bool
    ft_seeds: int
    ft_steps: int
    ft_lr: float
    model_name: str
    mteb_tasks: str
    max_tokens: int
    mteb_templates: str
    train_lm: bool          # preset only; False at paper: the pretrained LM is used as is (zero-shot)

    @property
    def mteb_task_names(self) -> list[str]:
        return [t.strip() for t in self.mteb_tasks.split(",") if t.strip()]


PRESETS: dict[str, dict] = {
    "smoke": {"n_seeds": 2, "n_train": 512, "epochs": 1, "lr": 5e-3, "n_eval": 40, "train_lm": True,
              "ft_seeds": 1, "ft_steps": 2},
    "cpu": {"n_seeds": 5, "n_train": 12000, "epochs": 2, "lr": 5e-3, "n_eval": 300, "train_lm": True,
            "ft_seeds": 3, "ft_steps": 30},
    "paper": {"n_seeds": 1, "n_train": 0, "epochs": 0, "lr": 0.0, "n_eval": 300, "train_lm": False,
              "ft_seeds": 0, "ft_steps": 30},
}


@dataclass(frozen=True)
class Config(ChapterConfig):
    SETTINGS = Settings
    PRESETS = PRESETS

    data_dir: str | None = None              # paper preset: folder holding model_name/ (None: a path or the HF cache)
    n_seeds: int | None = None               # reported seeds (None: the preset's value, cpu 5; paper 1)
    n_train: int | None = None               # tiny LM training sentences (None: the preset's value, cpu 12000)
    epochs: int | None = None                # passes over the training sentences (None: the preset's value, cpu 2)
    lr: float | None = None                  # AdamW peak learning rate (None: the preset's value, cpu 5e-3)
    n_eval: int | None = None                # triplets, probe test sentences and STS pairs per seed (cpu 300)
    repeat_fraction: float = 0.5             # share of training texts repeated as x <sep> x
    n_layer: int = 2                         # tiny GPT-2 layers
    n_embd: int = 64                         # tiny GPT-2 width (4 heads)
    batch_size: int = 64                     # training mini-batch size
    minilm: bool = True                      # add the bidirectional all-MiniLM-L6-v2 reference
    mteb_check: bool = True                  # also score the first seed through the mteb package
    ft_seeds: int | None = None              # contrastive fine-tuning on the first ft_seeds seeds (cpu 3; 0 skips)
    ft_steps: int | None = None              # fine-tuning steps of 8 concept pairs each (None: the preset's value, cpu 30)
    ft_lr: float = 1e-3                      # AdamW learning rate of the contrastive fine-tuning
    model_name: str = "mistralai/Mistral-7B-v0.1"  # paper preset: causal LM (a folder or a HF cache id)
    mteb_tasks: str = DEFAULT_MTEB_TASKS     # paper preset: comma-separated MTEB task names
    max_tokens: int = 300                    # paper preset: max tokens per filled template piece
    mteb_templates: str = "zero-shot"        # paper preset: "zero-shot" prompts | "instruction" query/document templates

    def require_data(self) -> None:
        """Paper preset: the causal LM's files must be on disk (the error says where they go)."""
        if self.preset == "paper":
            s = self.resolve()
            resolve_model_path(s.model_name, s.data_dir)

    def check(self) -> None:
        require_positive_ints(self, "n_train", "epochs", "n_eval", "n_layer", "batch_size", "max_tokens", "ft_steps")
        require(self.ft_seeds is None or (isinstance(self.ft_seeds, int) and self.ft_seeds >= 0),
                f"ft_seeds must be an integer >= 0, got {self.ft_seeds!r}")
        require(0 < self.ft_lr <= 1, f"ft_lr must be in (0, 1], got {self.ft_lr}")
        require(self.n_eval is None or self.n_eval >= 20, f"n_eval must be >= 20, got {self.n_eval}")
        require(self.lr is None or 0 < self.lr <= 1, f"lr must be in (0, 1], got {self.lr}")
        require(0.0 <= self.repeat_fraction <= 1.0,
                f"repeat_fraction must be in [0, 1], got {self.repeat_fraction}")
        require(isinstance(self.n_embd, int) and self.n_embd >= 4 and self.n_embd % 4 == 0,
                f"n_embd must be a positive multiple of 4 (4 heads), got {self.n_embd!r}")
        require(bool(self.model_name.strip()), "model_name must not be empty")
        require(self.mteb_templates in ("zero-shot", "instruction"),
                f"mteb_templates must be 'zero-shot' or 'instruction', got {self.mteb_templates!r}")
        require(self.preset != "paper" or bool(self.mteb_tasks.strip()),
                "mteb_tasks must name at least one MTEB task at preset paper")
