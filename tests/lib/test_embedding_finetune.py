"""robustbook.embeddings.finetune: the in-batch InfoNCE loss against a hand computation, and
contrastive fine-tuning of a tiny causal LM lowering that loss on its own pairs."""

import math

import pytest
import torch

from robustbook.embeddings.finetune import contrastive_finetune, info_nce, pooled_embeddings
from robustbook.models.tiny_lm import tiny_gpt2, word_tokenizer


def test_info_nce_is_cross_entropy_over_in_batch_cosines():
    q = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    p = torch.tensor([[3.0, 0.0], [1.0, 1.0]])  # cosines: [[1, 1/√2], [0, 1/√2]]
    t = 0.5
    c = 1 / math.sqrt(2)
    row0 = -(1 / t) + math.log(math.exp(1 / t) + math.exp(c / t))  # target 0
    row1 = -(c / t) + math.log(math.exp(0.0) + math.exp(c / t))     # target 1
    assert float(info_nce(q, p, t)) == pytest.approx((row0 + row1) / 2, rel=1e-6)
    assert float(info_nce(q, p, t)) != pytest.approx(float(info_nce(p, q, t)))  # queries vs positives matter
    with pytest.raises(ValueError, match="temperature must be > 0"):
        info_nce(q, p, 0.0)
    with pytest.raises(ValueError, match="must be \\(B, d\\) of one shape"):
        info_nce(q, p[:1], t)


def test_fine_tuning_lowers_the_loss_on_its_pairs_and_pools_only_marked_positions():
    words = ["a", "b", "c", "d", "e", "f"]
    tok = word_tokenizer(["<pad>", "<unk>", "<s>", "</s>", "<sep>", *words])
    torch.manual_seed(0)
    model = tiny_gpt2(len(tok), n_layer=1, n_embd=16, seed=0)
    template = "<s>{!%%text%%}<sep>{%%text%%}</s>"
    pairs = [({"text": f"{x} {y}"}, {"text": f"{y} {x}"}) for x, y in zip(words[:4], words[2:])]
    emb = pooled_embeddings(model, tok, template, [q for q, _ in pairs])
    assert emb.shape == (4, 16) and emb.requires_grad
    before = float(info_nce(emb, pooled_embeddings(model, tok, template, [p for _, p in pairs]), 0.1))
    losses = contrastive_finetune(model, tok, template, [pairs] * 40, lr=1e-2, temperature=0.1)
    assert len(losses) == 40 and losses[0] == pytest.approx(before, rel=1e-5)
    assert losses[-1] < 0.5 * losses[0]
    with pytest.raises(ValueError, match="at least 2 pairs"):
        contrastive_finetune(model, tok, template, [pairs[:1]], lr=1e-3)
    with pytest.raises(ValueError, match="lr must be > 0"):
        contrastive_finetune(model, tok, template, [pairs], lr=0.0)
