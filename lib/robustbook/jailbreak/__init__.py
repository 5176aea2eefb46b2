"""Jailbreaks and defenses on the purple problem (Kim, Kotha & Raghunathan, 2024): a synthetic
colour-chat corpus (``corpus``), the DPO fine-tuning defense (``dpo``), GCG adversarial suffixes
(``gcg``), the perplexity and output filters (``filters``) and shared plumbing (``chat``)."""

from robustbook.jailbreak.chat import attack_problem, purple_rate, replies
from robustbook.jailbreak.dpo import dpo_loss, dpo_train, sequence_logprobs
from robustbook.jailbreak.filters import log_perplexities, output_flagged, perplexity_threshold
from robustbook.jailbreak.gcg import AttackProblem, AttackResult, GCGSettings, gcg_attack, token_gradients

__all__ = ["AttackProblem", "AttackResult", "GCGSettings", "attack_problem", "dpo_loss", "dpo_train",
           "gcg_attack", "log_perplexities", "output_flagged", "perplexity_threshold", "purple_rate",
           "replies", "sequence_logprobs", "token_gradients"]
