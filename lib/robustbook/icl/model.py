"""A GPT-2 that learns linear regression in context (the read-in/read-out of Garg et al., 2022,
used by Kotha et al., 2024, Sec. 3), trained from scratch with fresh prompts every step.

Tokens interleave ``x_1, y_1, ..., x_k, y_k``: an x-token is ``(x, 0)``, a y-token ``(0, ..., 0, y)``
in ``d + 1`` dimensions; a linear read-in maps them to the GPT-2 width, a linear read-out maps the
hidden state *at each x-token* to the prediction of its y (so query ``j`` sees ``j`` examples).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from tqdm.auto import tqdm
from transformers import GPT2Config, GPT2Model

from robustbook._checks import check_int, check_number, require
from robustbook.icl.tasks import Prompts
from robustbook.optim.schedule import warmup_cosine


class InContextRegressor(torch.nn.Module):
    """GPT-2 over interleaved (x, y) tokens for prompts of up to ``k`` examples in ``dim`` dimensions."""

    def __init__(self, dim: int, k: int, *, n_layer: int = 2, n_head: int = 2, n_embd: int = 64,
                 seed: int = 0) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("k", k), ("n_layer", n_layer), ("n_head", n_head), ("n_embd", n_embd)):
            check_int(name, value)
        require(n_embd % n_head == 0, f"n_embd must be divisible by n_head, got n_embd={n_embd}, n_head={n_head}")
        config = GPT2Config(n_positions=2 * k, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
                            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, use_cache=False,
                            vocab_size=1, bos_token_id=None, eos_token_id=None)
        self.dim, self.k = dim, k
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.read_in = torch.nn.Linear(dim + 1, n_embd)
            self.backbone = GPT2Model(config)
            self.read_out = torch.nn.Linear(n_embd, 1)

    @staticmethod
    def interleave(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(B, k, d) inputs and (B, k) targets -> (B, 2k, d + 1) tokens x_1, y_1, x_2, y_2, ..."""
        b, k, d = x.shape
        xs = torch.cat([x, x.new_zeros(b, k, 1)], -1)
        ys = torch.cat([x.new_zeros(b, k, d), y[..., None]], -1)
        return torch.stack([xs, ys], 2).reshape(b, 2 * k, d + 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Predictions (B, k): entry j predicts y_{j+1} from x_1..x_{j+1} and y_1..y_j."""
        if x.ndim != 3 or x.shape[2] != self.dim or x.shape[1] > self.k or tuple(y.shape) != tuple(x.shape[:2]):
            raise ValueError(f"x must be (B, k <= {self.k}, d = {self.dim}) and y (B, k), got "
                             f"{tuple(x.shape)} and {tuple(y.shape)}")
        h = self.backbone(inputs_embeds=self.read_in(self.interleave(x, y))).last_hidden_state
        return self.read_out(h[:, 0::2])[..., 0]


def train_regressor(model: InContextRegressor, sample: Callable[[torch.Generator], Prompts], *,
                    steps: int, lr: float, generator: torch.Generator, warmup: float = 0.05,
                    weight_decay: float = 0.0, progress: bool | str = False) -> list[float]:
    """AdamW on the mean squared error over all k query positions, fresh prompts from
    ``sample(generator)`` each step, linear warm-up then cosine decay. Returns the loss per step."""
    check_int("steps", steps)
    check_number("lr", lr, low=0)
    check_number("warmup", warmup, low=0, high=1)
    device = next(model.parameters()).device
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = warmup_cosine(opt, steps, max(1, int(warmup * steps)))
    losses = []
    model.train()
    for _ in tqdm(range(steps), desc=progress if isinstance(progress, str) else "train",
                  disable=not progress, mininterval=1.0, leave=False):
        p = sample(generator)
        x, y = p.x.to(device), p.y.to(device)
        loss = ((model(x, y) - y) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


@torch.no_grad()
def predict(model: InContextRegressor, x: torch.Tensor, y: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Evaluation-mode predictions (B, k), in chunks of ``chunk`` prompts, returned on the CPU."""
    check_int("chunk", chunk)
    require(len(x) == len(y) and len(x) > 0, f"need x, y with the same number (>= 1) of prompts, got {len(x)}, {len(y)}")
    device = next(model.parameters()).device
    model.eval()
    parts = [model(x[i:i + chunk].to(device), y[i:i + chunk].to(device)).cpu()
             for i in range(0, len(x), chunk)]
    return torch.cat(parts)
