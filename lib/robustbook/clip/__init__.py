"""CLIP at toy scale and at paper scale with open_clip: tiny model configs shipped as JSON and
registered with ``open_clip.add_model_config``,
a word tokenizer for synthetic captions, contrastive training for a budget of samples seen, and
zero-shot evaluation from class-name prompts."""

from robustbook.clip.models import (
    CONFIG_DIR,
    TINY_CLIP_CONFIGS,
    clip_tokenizer,
    create_clip,
    register,
    register_configs,
    tiny_clip_config,
)
from robustbook.clip.tokenizer import WordTokenizer
from robustbook.clip.training import contrastive_step, train_contrastive, train_on_batches
from robustbook.clip.zeroshot import class_embeddings, zero_shot_accuracy, zero_shot_logits

__all__ = ["CONFIG_DIR", "TINY_CLIP_CONFIGS", "WordTokenizer", "class_embeddings", "clip_tokenizer", "contrastive_step",
           "create_clip", "register", "register_configs", "tiny_clip_config", "train_contrastive", "train_on_batches",
           "zero_shot_accuracy", "zero_shot_logits"]
