"""Chapter 10's parameters: ``Config`` (what a user sets) and ``Settings`` (resolved by preset).

Synthetic half (Kotha et al., 2024, Sec. 3): in-context linear regression, pretraining on a
mixture of a discrete pool of tasks and Gaussian tasks, fine-tuning on the pool only. The cpu
preset follows the scaled-down setting of the science brief (d = 2, 8 pool tasks, sigma = 0.5,
8 examples, 2-layer GPT-2) with a narrower model (32 wide) and 3,000 pretraining steps to fit the
budget (fixed on tuning seeds 100-102). The paper preset adds the LLM half: 2-shot ICL tasks in
conflict with instructions, in English and conjugate "languages", scored on causal LMs by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from robustbook.book.config import ChapterConfig, CommonSettings, require, require_positive_ints
from robustbook.chapters.conjugate_prompting.llm import require_models


@dataclass(frozen=True)
class Settings(CommonSettings):
    dim: int
    n_tasks: int
    sigma: float
    p_discrete: float
    k: int
    n_layer: int
    n_head: int
    n_embd: int
    batch_size: int
    pretrain_steps: int
    lr: float
    ft_steps: int
    ft_lr: float
    c_grid: tuple[float, ...]
    conjugate_c: float
    n_eval: int
    lm_names: tuple[str, ...]         # paper preset: causal LMs (folders under data_dir) to score
    languages: tuple[str, ...]        # paper preset: prompt languages (en, leetspeak, piglatin, or a table)
    n_llm_prompts: int


_SYNTH = dict(dim=2, n_tasks=8, sigma=0.5, p_discrete=0.5, k=8, n_layer=2, n_head=2, n_embd=32,
              batch_size=64, pretrain_steps=3000, lr=2e-3, ft_steps=500, ft_lr=3e-4,
              c_grid=(1.0, 1.25, 1.5, 2.0, 3.0), conjugate_c=1.5, n_eval=2000, lm_names=(),
              languages=("en", "leetspeak", "piglatin"), n_llm_prompts=0)
PRESETS: dict[str, dict] = {
    "smoke": {**_SYNTH, "n_seeds": 1, "pretrain_steps": 30, "ft_steps": 10, "n_eval": 64},
    "cpu": {**_SYNTH, "n_seeds": 3},
    "paper": {**_SYNTH, "n_seeds": 3, "dim": 8, "n_tasks": 64, "sigma": 1.0, "k": 16, "n_layer": 6,
              "n_head": 4, "n_embd": 128, "pretrain_steps": 20000, "ft_steps": 2000, "n_eval": 4000,
              "lm_names": ("huggyllama/llama-7b", "tatsu-lab/alpaca-7b-wdiff", "lmsys/vicuna-7b-v1.3",
                           "facebook/opt-1.3b", "facebook/opt-iml-1.3b"),
              "n_llm_prompts": 200},
}


@dataclass(frozen=True)
class Config(ChapterConfig):
    SETTINGS = Settings
    PRESETS = PRESETS

    data_dir: str | None = None            # paper preset: folder holding one subfolder per LM (HF format)
    n_seeds: int | None = None             # reported seeds (None: the preset's, cpu 3)
    pretrain_steps: int | None = None      # pretraining steps on the task mixture (cpu 3000)
    ft_steps: int | None = None            # fine-tuning steps on the discrete pool only (cpu 500)
    n_embd: int | None = None              # GPT-2 width (cpu 32, paper 128)
    p_discrete: float | None = None        # pretraining probability of a discrete-pool task (0.5)
    sigma: float | None = None             # label noise standard deviation (cpu 0.5, paper 1.0)
    conjugate_c: float | None = None       # pre-registered input scale of the conjugate prompt (1.5)
    c_grid: tuple | None = None            # input scales swept (must contain 1.0 and conjugate_c)
    lm_names: tuple | None = None          # paper preset: causal LMs to score, folders under data_dir

    def check(self) -> None:
        require_positive_ints(self, "pretrain_steps", "ft_steps", "n_embd")
        require(self.p_discrete is None or 0 < self.p_discrete < 1,
                f"p_discrete must be in (0, 1) (a mixture of both families), got {self.p_discrete}")
        require(self.sigma is None or self.sigma > 0, f"sigma must be > 0, got {self.sigma}")
        require(self.conjugate_c is None or self.conjugate_c > 0,
                f"conjugate_c must be > 0, got {self.conjugate_c}")
        grid = self.c_grid
        require(grid is None or (len(grid) >= 2 and 1.0 in grid and all(c > 0 for c in grid)
                                 and list(grid) == sorted(grid)),
                f"c_grid must be increasing positive scales containing 1.0, got {grid}")
        require(grid is None or self.conjugate_c is None or self.conjugate_c in grid,
                f"conjugate_c ({self.conjugate_c}) must be one of c_grid {grid}")
        require(self.n_embd is None or self.n_embd % 2 == 0, f"n_embd must be even (2 heads), got {self.n_embd}")

    def require_data(self) -> None:
        """Preset paper: every LM folder (and translation table) must be under ``data_dir``."""
        if self.preset == "paper":
            s = self.resolve()
            require_models(s.data_dir, s.lm_names, s.languages)
