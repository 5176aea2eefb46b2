"""Sentence embeddings from language models: classical and echo templates (Springer et al., 2024),
span bookkeeping, batching, pooling, metrics, and a bidirectional reference encoder.

``robustbook.embeddings.mteb_eval`` (MTEB evaluation) is not imported here: it imports mteb,
which takes seconds; import it where it is used.
"""

from robustbook.embeddings.diagnostics import copy_accuracy, spread
from robustbook.embeddings.extract import collate, embed, embed_variants, token_states
from robustbook.embeddings.metrics import (
    cosine_matrix,
    probe_accuracy,
    retrieval_scores,
    sts_spearman,
    tie_fraction,
    triplet_accuracy,
    triplet_margins,
)
from robustbook.embeddings.pooling import POOLINGS, last_pool, mean_pool, pool
from robustbook.embeddings.templates import (
    PAPER_TEMPLATES,
    ZERO_SHOT_TEMPLATES,
    Encoded,
    Template,
    parse_template,
    render,
    show_pooled,
)

__all__ = ["PAPER_TEMPLATES", "POOLINGS", "ZERO_SHOT_TEMPLATES", "Encoded", "Template", "collate",
           "copy_accuracy", "cosine_matrix", "embed", "embed_variants", "last_pool", "mean_pool", "parse_template",
           "pool", "probe_accuracy", "render", "retrieval_scores", "show_pooled", "spread", "sts_spearman",
           "tie_fraction", "token_states", "triplet_accuracy", "triplet_margins"]
