"""Tiny causal language models from ``transformers`` configs, trained from scratch in seconds.

``word_tokenizer`` builds a real ``PreTrainedTokenizerFast`` (word-level, whitespace split) so a
tiny model goes through exactly the same code path as a pretrained LM from the hub (templates,
padding, ``model.base_model``). ``tiny_gpt2`` is a GPT-2 with a few layers; ``train_causal_lm``
trains it with next-token cross-entropy using the book's one training loop (``robustbook.train``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from robustbook._checks import check_int, require
from robustbook.optim.schedule import warmup_cosine
from robustbook.train import History, fit


def word_tokenizer(vocabulary: Sequence[str], *, pad: str = "<pad>", unk: str = "<unk>",
                   bos: str = "<s>", eos: str = "</s>", sep: str = "<sep>") -> PreTrainedTokenizerFast:
    """A word-level tokenizer over ``vocabulary`` (whitespace split; id = position in the list).
    The five special tokens must be in ``vocabulary``; they are recognised inside any text."""
    specials = [pad, unk, bos, eos, sep]
    missing = [t for t in specials if t not in vocabulary]
    if missing or len(set(vocabulary)) != len(vocabulary):
        raise ValueError(f"vocabulary must be unique and contain the special tokens; missing {missing}")
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocabulary)}, unk_token=unk))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=pad, unk_token=unk,
                                   bos_token=bos, eos_token=eos, sep_token=sep,
                                   additional_special_tokens=[], padding_side="right")


def tiny_gpt2(vocab_size: int, *, n_layer: int = 2, n_head: int = 4, n_embd: int = 64,
              n_positions: int = 64, seed: int = 0) -> GPT2LMHeadModel:
    """A GPT-2 language model with freshly initialised weights (``seed``), no dropout. The
    initialisation draws from a forked RNG: torch's global random state is left as it was."""
    for name, value in (("vocab_size", vocab_size), ("n_layer", n_layer), ("n_head", n_head),
                        ("n_embd", n_embd), ("n_positions", n_positions)):
        check_int(name, value)
    require(n_embd % n_head == 0, f"n_embd must be divisible by n_head, got n_embd={n_embd}, n_head={n_head}")
    config = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd,
                        n_layer=n_layer, n_head=n_head, resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0, bos_token_id=None, eos_token_id=None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(config)
    model.loss_type = "ForCausalLM"  # transformers cannot infer it from the class name (a warning)
    return model


def lm_targets(input_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Labels for next-token loss: the inputs with padding replaced by -100 (ignored). The model
    shifts them by one position internally."""
    return input_ids.masked_fill(input_ids == pad_id, -100)


def train_causal_lm(model: GPT2LMHeadModel, input_ids: torch.Tensor, *, pad_id: int, epochs: int,
                    batch_size: int, lr: float, weight_decay: float = 0.01,
                    generator: torch.Generator, progress: bool | str = False) -> History:
    """Next-token training on ``input_ids`` (N, L), right-padded with ``pad_id``: AdamW, linear
    warm-up then cosine decay of ``lr``. Returns the loop's ``History`` (mean loss per epoch)."""
    require(input_ids.ndim == 2 and not input_ids.is_floating_point(),
            f"input_ids must be integer token ids (N, L), got shape {tuple(input_ids.shape)}, "
            f"dtype {input_ids.dtype}")
    n_positions = getattr(getattr(model, "config", None), "n_positions", None)
    require(n_positions is None or input_ids.shape[1] <= n_positions,
            f"input_ids has sequences of length {input_ids.shape[1]} but the model has only "
            f"n_positions={n_positions} positions")
    check_int("epochs", epochs)
    check_int("batch_size", batch_size)
    device = next(model.parameters()).device
    input_ids = input_ids.to(device)
    steps = epochs * math.ceil(len(input_ids) / batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.98))
    schedule = warmup_cosine(opt, steps, max(1, steps // 20))

    def step(xb: torch.Tensor, yb: torch.Tensor) -> float:
        loss = model(input_ids=xb, attention_mask=(xb != pad_id).long(), labels=yb).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        return float(loss.detach())

    model.train()
    history = fit(model, input_ids, lm_targets(input_ids, pad_id), step, epochs=epochs,
                  batch_size=batch_size, generator=generator, progress=progress)
    model.eval()
    return history
