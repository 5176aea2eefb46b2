"""Chapter 04's parameters: ``Config`` (what a user sets) and ``Settings`` (resolved by preset).

``cpu`` trains a tiny GPT-2 from scratch on the synthetic colour-chat corpus of
``robustbook.jailbreak.corpus``, defends it with DPO and attacks it with GCG (settings chosen on
tuning seeds 100-104, never on the reported seeds). ``paper`` attacks a chat model read from disk
(e.g. the paper's DPO-defended Llama-2-7b-chat) on purple questions read from ``data_dir``
(Kim et al., 2024, Sec. 4: GCG top-k 256, 512 candidates, 20-token suffix, up to 1000 steps).
"""

from __future__ import annotations

from dataclasses import dataclass

from robustbook.book.config import (
    ChapterConfig,
    CommonSettings,
    require,
    require_non_negative,
    require_positive_ints,
)


@dataclass(frozen=True)
class Settings(CommonSettings):
    """Every knob resolved to a concrete value (what ``run`` uses)."""

    n_texts: int
    epochs: int
    lr: float
    n_embd: int
    dpo_beta: float
    dpo_lr: float
    dpo_epochs: int
    n_attack_prompts: int
    suffix_len: int
    gcg_steps: int
    gcg_restarts: int
    top_k: int
    n_candidates: int
    adaptive_prompts: int
    adaptive_suffix_len: int
    adaptive_steps: int
    fluency: float
    target: str
    max_new_tokens: int
    model_name: str
    train_lm: bool          # preset only; False at paper: the chat model on disk is attacked as is


_COMMON = dict(n_texts=2400, epochs=8, lr=1e-2, n_embd=64, dpo_beta=0.3, dpo_lr=1e-3, dpo_epochs=6,
               suffix_len=8, top_k=32, n_candidates=256, adaptive_suffix_len=12, fluency=1.0,
               target="it is purple", max_new_tokens=8, train_lm=True)
PRESETS: dict[str, dict] = {
    "smoke": {**_COMMON, "n_seeds": 2, "n_texts": 300, "epochs": 1, "n_attack_prompts": 2, "gcg_steps": 2,
              "gcg_restarts": 1, "n_candidates": 32, "adaptive_prompts": 1, "adaptive_steps": 2},
    "cpu": {**_COMMON, "n_seeds": 5, "n_attack_prompts": 6, "gcg_steps": 30, "gcg_restarts": 2,
            "adaptive_prompts": 3, "adaptive_steps": 20},
    "paper": {**_COMMON, "n_seeds": 1, "n_attack_prompts": 10, "suffix_len": 20, "gcg_steps": 500,
              "gcg_restarts": 1, "top_k": 256, "n_candidates": 512, "adaptive_prompts": 10,
              "adaptive_suffix_len": 20, "adaptive_steps": 500, "target": "Purple", "max_new_tokens": 128,
              "train_lm": False},
}


@dataclass(frozen=True)
class Config(ChapterConfig):
    SETTINGS = Settings
    PRESETS = PRESETS

    data_dir: str | None = None              # paper preset: folder holding model_name/ and purple_questions.json
    n_seeds: int | None = None               # reported seeds (None: the preset's value, cpu 5; paper 1)
    n_texts: int | None = None               # pretraining texts of the tiny chat LM (cpu 2400)
    epochs: int | None = None                # pretraining passes over the texts (cpu 8)
    lr: float | None = None                  # pretraining AdamW peak learning rate (cpu 0.01)
    n_embd: int | None = None                # tiny GPT-2 width, 2 layers and 4 heads (cpu 64)
    dpo_beta: float | None = None            # DPO inverse temperature beta (paper 0.3)
    dpo_lr: float | None = None              # DPO learning rate (cpu 0.001)
    dpo_epochs: int | None = None            # DPO passes over the preference pairs (cpu 6)
    n_attack_prompts: int | None = None      # held-out purple questions attacked per seed by GCG (cpu 6)
    suffix_len: int | None = None            # GCG suffix tokens (cpu 8, paper 20)
    gcg_steps: int | None = None             # GCG steps per restart (cpu 30, paper 500)
    gcg_restarts: int | None = None          # GCG restarts from a fresh random suffix (cpu 2)
    top_k: int | None = None                 # GCG top-k tokens per suffix position (cpu 32, paper 256)
    n_candidates: int | None = None          # GCG candidates scored per step in one batch (cpu 256, paper 512)
    adaptive_prompts: int | None = None      # prompts attacked by the perplexity-adaptive GCG per seed (cpu 3)
    adaptive_suffix_len: int | None = None   # adaptive GCG suffix tokens (cpu 12)
    adaptive_steps: int | None = None        # adaptive GCG steps, one restart from a fluent chat turn (cpu 20)
    fluency: float | None = None             # adaptive GCG weight of the prompt log-perplexity (cpu 1.0)
    target: str | None = None                # answer GCG forces (cpu "it is purple", paper "Purple")
    max_new_tokens: int | None = None        # greedy reply length judged by the filters (cpu 8, paper 128)
    model_name: str = "llama-2-7b-chat-purple-dpo"  # paper preset: chat model folder under data_dir

    def require_data(self) -> None:
        """Paper preset: the chat model and the questions must be on disk (the error says where)."""
        if self.preset == "paper":
            from robustbook.chapters.purple_problem.paper import check_paper_inputs
            check_paper_inputs(self.data_dir, self.model_name)

    def check(self) -> None:
        require_positive_ints(self, "n_texts", "epochs", "dpo_epochs", "n_attack_prompts", "suffix_len",
                              "gcg_steps", "gcg_restarts", "top_k", "n_candidates", "adaptive_prompts",
                              "adaptive_suffix_len", "adaptive_steps", "max_new_tokens")
        require_non_negative(self, "fluency")
        for name in ("lr", "dpo_lr", "dpo_beta"):
            value = getattr(self, name)
            require(value is None or value > 0, f"{name} must be > 0, got {value}")
        require(self.n_embd is None or (isinstance(self.n_embd, int) and self.n_embd >= 4
                                        and self.n_embd % 4 == 0),
                f"n_embd must be a positive multiple of 4 (4 heads), got {self.n_embd!r}")
        require(self.target is None or "purple" in self.target.lower(),
                f"target must contain the word purple, got {self.target!r}")
        require(bool(self.model_name.strip()), "model_name must not be empty")
