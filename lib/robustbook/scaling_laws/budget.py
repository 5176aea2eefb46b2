"""Training for a compute budget measured in *samples seen* (the paper's x-axis).

A budget of n samples seen on a pool of N samples is the first n indices of consecutive shuffled
passes over the pool (n // N full passes and a partial one), cut into mini-batches; every budget is
its own training run with its own cosine schedule (as in DataComp, where each budget is a separate
run), so the error at budget n is the error at the end of a run of n.

``train_linear_runs`` trains many linear softmax models at once (one per pool/seed), each on its
own stream: the batched matrix products give each run exactly the gradients it would get alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from robustbook.optim.schedule import warmup_cosine


def sample_stream(pool_size: int, samples_seen: int, generator: torch.Generator) -> torch.Tensor:
    """(samples_seen,) indices into a pool of ``pool_size``: fresh permutations back to back,
    truncated. Index j belongs to pass j // pool_size."""
    if pool_size < 1 or samples_seen < 1:
        raise ValueError(f"need pool_size and samples_seen >= 1, got {pool_size}, {samples_seen}")
    n_passes = math.ceil(samples_seen / pool_size)
    return torch.cat([torch.randperm(pool_size, generator=generator) for _ in range(n_passes)])[:samples_seen]


def budget_batches(pool_size: int, samples_seen: int, batch_size: int,
                   generator: torch.Generator) -> list[torch.Tensor]:
    """The stream cut into ``ceil(samples_seen / batch_size)`` batches (the last may be short)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return list(sample_stream(pool_size, samples_seen, generator).split(batch_size))


def _init_linear(d_in: int, n_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """nn.Linear's default init, U(-1/sqrt(d_in), 1/sqrt(d_in)), drawn from ``seed``."""
    gen, bound = torch.Generator().manual_seed(seed), 1 / math.sqrt(d_in)
    w = (torch.rand(d_in, n_classes, generator=gen) * 2 - 1) * bound
    return w, (torch.rand(n_classes, generator=gen) * 2 - 1) * bound


def train_linear_runs(xs: Sequence[torch.Tensor], ys: Sequence[torch.Tensor], *, samples_seen: int,
                      batch_size: int, lr: float, n_classes: int, seeds: Sequence[int],
                      momentum: float = 0.9, weight_decay: float = 0.0,
                      device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """R linear softmax models, run r trained by SGD (momentum, cosine lr) on its pool
    (``xs[r]`` (N_r, d), ``ys[r]`` (N_r,)) for exactly ``samples_seen`` samples; ``seeds[r]`` fixes
    its init and its data order (drawn on the CPU, so every device sees the same streams).
    Returns weights (R, d, C) and biases (R, C) on ``device``: logits = x W + b."""
    if not len(xs) == len(ys) == len(seeds) or not xs:
        raise ValueError("need one pool (x, y) and one seed per run")
    pad = max(len(x) for x in xs)
    x_all = torch.stack([F.pad(x, (0, 0, 0, pad - len(x))) for x in xs]).to(device)   # (R, pad, d)
    y_all = torch.stack([F.pad(y, (0, pad - len(y))) for y in ys]).to(device)          # (R, pad)
    streams = torch.stack([sample_stream(len(x), samples_seen, torch.Generator().manual_seed(s))
                           for x, s in zip(xs, seeds)]).to(device)                     # (R, n)
    inits = [_init_linear(x_all.shape[2], n_classes, s) for s in seeds]
    w = torch.stack([i[0] for i in inits]).to(device).requires_grad_()
    b = torch.stack([i[1] for i in inits]).to(device).requires_grad_()
    opt = torch.optim.SGD([w, b], lr=lr, momentum=momentum, weight_decay=weight_decay)
    batches = streams.split(batch_size, dim=1)
    schedule = warmup_cosine(opt, len(batches))
    rows = torch.arange(len(xs), device=device)[:, None]
    for idx in batches:                                                            # idx: (R, B)
        logits = torch.bmm(x_all[rows, idx], w) + b[:, None, :]                    # (R, B, C)
        # Sum over runs of each run's mean loss: run r's gradient is its own mean-loss gradient.
        loss = F.cross_entropy(logits.flatten(0, 1), y_all[rows, idx].flatten(), reduction="sum")
        opt.zero_grad(set_to_none=True)
        (loss / idx.shape[1]).backward()
        opt.step()
        schedule.step()
    return w.detach(), b.detach()


@torch.no_grad()
def linear_errors(w: torch.Tensor, b: torch.Tensor, x_test: Sequence[torch.Tensor],
                  y_test: Sequence[torch.Tensor]) -> list[float]:
    """Test error of each run r on its own test set (``x_test[r]`` (M, d), ``y_test[r]`` (M,))."""
    return [float(((x.to(w.device) @ w[r] + b[r]).argmax(1) != y.to(w.device)).float().mean())
            for r, (x, y) in enumerate(zip(x_test, y_test))]
