"""Direct preference optimisation (Rafailov et al., 2023), the fine-tuning defense of Kim et al. (2024,
Sec. 4.1): push the policy towards the chosen (purple-free) answer and away from the rejected one,
relative to a frozen reference model.

    L = -log sigma( beta * [(log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))] )

``sequence_logprobs`` sums the answer tokens' log-probabilities only (prompt tokens are masked).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from robustbook.optim.schedule import warmup_cosine


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> torch.Tensor:
    """Mean sigmoid DPO loss over a batch of (B,) sequence log-probabilities (the formula above)."""
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin).mean()


def encode_pairs(tokenizer, prompts: Sequence[str], answers: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids (N, L) of ``prompt + answer`` and a mask (N, L) that is 1 on answer tokens."""
    rows, masks = [], []
    for p, a in zip(prompts, answers):
        p_ids = tokenizer(p, add_special_tokens=False)["input_ids"]
        a_ids = tokenizer(" " + a, add_special_tokens=False)["input_ids"]
        rows.append(p_ids + a_ids)
        masks.append([0] * len(p_ids) + [1] * len(a_ids))
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    mask = torch.tensor([m + [0] * (width - len(m)) for m in masks], dtype=torch.bool)
    return ids, mask


def sequence_logprobs(model, ids: torch.Tensor, answer_mask: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Sum over answer tokens of log p(token | prefix): (N, L) ids and mask -> (N,)."""
    logits = model(input_ids=ids, attention_mask=(ids != pad_id).long()).logits[:, :-1]
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
    return (logp * answer_mask[:, 1:]).sum(dim=1)


def dpo_train(model, tokenizer, pairs: Sequence[tuple[str, str, str]], *, beta: float, epochs: int,
              batch_size: int, lr: float, generator: torch.Generator, trainable: str | None = None,
              progress: bool | str = False) -> list[float]:
    """Fine-tune ``model`` in place with DPO on (prompt, chosen, rejected) ``pairs``; the reference
    is a frozen copy taken at the start. ``trainable``: only parameters whose name contains it are
    updated (e.g. ``"attn"``: the attention projections, as the paper's LoRA on q/v); None: all.
    Returns the mean loss per epoch."""
    prompts = [p for p, _, _ in pairs]
    device = next(model.parameters()).device
    chosen, c_mask = (t.to(device) for t in encode_pairs(tokenizer, prompts, [c for _, c, _ in pairs]))
    rejected, r_mask = (t.to(device) for t in encode_pairs(tokenizer, prompts, [r for _, _, r in pairs]))
    pad = tokenizer.pad_token_id
    reference = copy.deepcopy(model).eval()
    with torch.no_grad():
        ref_c, ref_r = (sequence_logprobs(reference, chosen, c_mask, pad),
                        sequence_logprobs(reference, rejected, r_mask, pad))
    steps = epochs * math.ceil(len(pairs) / batch_size)
    params = [p for n, p in model.named_parameters() if trainable is None or trainable in n]
    if not params:
        raise ValueError(f"no parameter name contains {trainable!r}")
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    schedule = warmup_cosine(opt, steps, max(1, steps // 10))
    losses = []
    model.train()
    for _ in tqdm(range(epochs), desc=progress if isinstance(progress, str) else "DPO",
                  disable=not progress, leave=False):
        total = 0.0
        for idx in torch.randperm(len(pairs), generator=generator).split(batch_size):
            loss = dpo_loss(sequence_logprobs(model, chosen[idx], c_mask[idx], pad),
                            sequence_logprobs(model, rejected[idx], r_mask[idx], pad),
                            ref_c[idx], ref_r[idx], beta)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(pairs))
    model.eval()
    return losses
