"""Train many multitask models at once (seeds x methods x hyperparameters) and record, after
every epoch, per-group accuracy on validation and test, so checkpoints can be selected by
worst-group validation accuracy afterwards (Kulkarni et al., 2024, Sec. 4).

Each model k has its own dataset (``data_index[k]`` into a list of equally sized GroupData),
initial weights, data order, auxiliary masks, loss weights and training pool (JTT's up-sampled
pool; default every training point once). Every model takes the same number of steps per epoch
(n_train / batch_size), so all methods get the same budget."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from robustbook._checks import check_int, check_number, require
from robustbook.groups.data import GroupData, masked_units
from robustbook.groups.metrics import average_accuracy, group_accuracy
from robustbook.groups.model import StackedMTL, mtl_loss


@dataclass(frozen=True)
class MethodSpec:
    """One model: which dataset, seeds for init / data order / masks, loss weights, pool."""

    data_index: int
    init_seed: int
    order_seed: int
    w_mt: float = 0.0
    w_reg: float = 0.0
    pool: torch.Tensor | None = field(default=None, compare=False)


@dataclass
class TrainHistory:
    """Per model k and checkpoint e (0 = initialisation, then after each epoch): group
    accuracies (K, E+1, G) and average accuracies (K, E+1) on val and test."""

    val_group: torch.Tensor
    test_group: torch.Tensor
    val_avg: torch.Tensor
    test_avg: torch.Tensor


def _stack(datasets: Sequence[GroupData], key: str, split: str, index: torch.Tensor) -> torch.Tensor:
    return torch.stack([getattr(d, key)[split] for d in datasets])[index]


def _epoch_batches(specs: Sequence[MethodSpec], gens: list[torch.Generator], n: int, steps: int,
                   batch: int) -> torch.Tensor:
    """(K, steps, batch) training indices: each model walks random permutations of its pool."""
    out = []
    for spec, gen in zip(specs, gens):
        pool = torch.arange(n) if spec.pool is None else spec.pool
        reps = -(-steps * batch // len(pool))
        order = torch.cat([pool[torch.randperm(len(pool), generator=gen)] for _ in range(reps)])
        out.append(order[: steps * batch].view(steps, batch))
    return torch.stack(out)


@torch.no_grad()
def evaluate(model: StackedMTL, x: torch.Tensor, y: torch.Tensor, groups: torch.Tensor,
             n_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (K, N, D), y and groups (K, N) -> group accuracy (K, G), average accuracy (K,)."""
    pred = model(x).argmax(-1)
    return group_accuracy(pred, y, groups, n_groups), average_accuracy(pred, y)


@torch.no_grad()
def predict(model: StackedMTL, x: torch.Tensor) -> torch.Tensor:
    """Predicted labels (K, N) for inputs x (K, N, D)."""
    return model(x).argmax(-1)


def _check_train_args(datasets: Sequence[GroupData], specs: Sequence[MethodSpec], *, width: int,
                      epochs: int, batch_size: int, lr: float, mask_rate: float) -> None:
    require(len(datasets) > 0, "datasets must hold at least one GroupData, got none")
    require(len(specs) > 0, "specs must describe at least one model, got none")
    check_int("width", width)
    check_int("epochs", epochs, minimum=0)
    check_int("batch_size", batch_size)
    check_number("lr", lr, low=0)
    check_number("mask_rate", mask_rate, low=0, high=1)
    sizes = {sp: {tuple(d.x[sp].shape) for d in datasets} for sp in ("train", "val", "test")}
    require(all(len(s) == 1 for s in sizes.values()),
            f"datasets must be equally sized per split, got shapes {sizes}")
    n = datasets[0].x["train"].shape[0]
    for k, spec in enumerate(specs):
        require(isinstance(spec.data_index, numbers.Integral) and 0 <= spec.data_index < len(datasets),
                f"specs[{k}].data_index must be in [0, {len(datasets)}), got {spec.data_index!r}")
        check_number(f"specs[{k}].w_mt", spec.w_mt, low=0)
        check_number(f"specs[{k}].w_reg", spec.w_reg, low=0)
        if spec.pool is not None:
            pool = spec.pool
            require(pool.ndim == 1 and len(pool) > 0 and not pool.is_floating_point(),
                    f"specs[{k}].pool must be a non-empty 1-D integer index tensor, got shape "
                    f"{tuple(pool.shape)}, dtype {pool.dtype}")
            low, high = int(pool.min()), int(pool.max())
            require(low >= 0 and high < n, f"specs[{k}].pool indices must lie in [0, {n}), got [{low}, {high}]")


def train_stacked(datasets: Sequence[GroupData], specs: Sequence[MethodSpec], *, width: int,
                  epochs: int, batch_size: int, lr: float, mask_rate: float,
                  device: torch.device | str = "cpu", progress: str | bool = False
                  ) -> tuple[StackedMTL, TrainHistory]:
    """Train K = len(specs) models with Adam on their ``mtl_loss``; returns the final models and
    the per-epoch history. ``mask_rate``: share of mask units hidden in the auxiliary batch."""
    _check_train_args(datasets, specs, width=width, epochs=epochs, batch_size=batch_size, lr=lr,
                      mask_rate=mask_rate)
    dev = torch.device(device)
    data_idx = torch.tensor([s.data_index for s in specs])
    first = datasets[0]
    x = {sp: _stack(datasets, "x", sp, data_idx).to(dev) for sp in ("train", "val", "test")}
    y = {sp: _stack(datasets, "y", sp, data_idx).to(dev) for sp in ("train", "val", "test")}
    g = {sp: y[sp] * first.n_attributes + _stack(datasets, "a", sp, data_idx).to(dev)
         for sp in ("val", "test")}
    n = x["train"].shape[1]
    steps, k_idx = max(1, n // batch_size), torch.arange(len(specs), device=dev)[:, None]
    model = StackedMTL(first.dim, width, first.n_classes, [s.init_seed for s in specs]).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    w_mt = torch.tensor([s.w_mt for s in specs], device=dev)
    w_reg = torch.tensor([s.w_reg for s in specs], device=dev)
    order_gens = [torch.Generator().manual_seed(int(s.order_seed)) for s in specs]
    aux_gens = [torch.Generator().manual_seed(int(s.order_seed) ^ 0x5A5A5A) for s in specs]
    records = [evaluate_all(model, x, y, g, first.n_groups)]
    for _ in tqdm(range(epochs), desc=progress or "", disable=not progress, leave=False):
        batches = _epoch_batches(specs, order_gens, n, steps, batch_size).to(dev)
        aux = _epoch_batches([MethodSpec(0, 0, 0)] * len(specs), aux_gens, n, steps, batch_size).to(dev)
        masks = torch.stack([masked_units(first.mask_units, mask_rate, (steps, batch_size), gen)
                             for gen in aux_gens], 1).to(dev)               # (steps, K, B, D)
        for s in range(steps):
            xb, yb = x["train"][k_idx, batches[:, s]], y["train"][k_idx, batches[:, s]]
            loss = mtl_loss(model, xb, yb, x["train"][k_idx, aux[:, s]], masks[s], w_mt, w_reg)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
        records.append(evaluate_all(model, x, y, g, first.n_groups))
    val_g, val_a, test_g, test_a = (torch.stack([r[i] for r in records], 1).cpu() for i in range(4))
    return model, TrainHistory(val_g, test_g, val_a, test_a)


def evaluate_all(model: StackedMTL, x: dict, y: dict, g: dict, n_groups: int) -> tuple:
    """(val group acc, val avg, test group acc, test avg) of all K models."""
    return (*evaluate(model, x["val"], y["val"], g["val"], n_groups),
            *evaluate(model, x["test"], y["test"], g["test"], n_groups))


def selected(history: TrainHistory, first: int = 1) -> dict[str, torch.Tensor]:
    """Each model's checkpoint chosen by worst-group *validation* accuracy (checkpoints ``first``
    .. E; 1 skips the untrained initialisation) and its numbers: epoch (K,), val_worst (K,),
    test_worst (K,), test_avg (K,), test_group (K, G)."""
    from robustbook.groups.metrics import select_by_worst_group, worst_group_accuracy

    val_worst = worst_group_accuracy(history.val_group)                  # (K, E+1)
    epoch = select_by_worst_group(val_worst, first=first)                # (K,)
    k = torch.arange(len(epoch))
    return {"epoch": epoch, "val_worst": val_worst[k, epoch],
            "test_worst": worst_group_accuracy(history.test_group)[k, epoch],
            "test_avg": history.test_avg[k, epoch], "test_group": history.test_group[k, epoch]}
