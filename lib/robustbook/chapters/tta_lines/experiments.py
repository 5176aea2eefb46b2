"""Chapter 09's experiment (glue): a zoo of BatchNorm models, every corruption shift, every TTA
method, and the lines, estimates and feature statistics before and after adaptation.

Per reported seed: a split of the digits and the corrupted test sets
(``robustbook.data.digit_shifts``), the zoo trained batched per architecture
(``robustbook.tta.zoo``), then per shift and method the adapted zoo's logits
(``robustbook.tta.evaluate``), the estimator battery (``robustbook.shift.evaluate_shift``) and, on
the focus shift, the single-scaling feature measures (``robustbook.tta.features``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from robustbook import shift
from robustbook.book.chapter import derive_seed, generator
from robustbook.chapters.tta_lines.config import Settings, parse_arch
from robustbook.data.digit_shifts import corrupted_sets, digit_images, split_digits
from robustbook.tta import (
    Arch,
    adapt,
    collect_params,
    predict,
    scaling_fit,
    softmax_entropy,
    stack_states,
    train_snapshots,
)
from robustbook.tta.paper import load_cifar10_test, load_model, load_shift

N_CLASSES = 10
TABLES = ("models", "lines", "errors", "pairs", "features", "selection", "checks")


@dataclass
class DataSet:
    x_train: torch.Tensor   # (N, 1, S, S) float in [0, 1]
    y_train: torch.Tensor
    x_id: torch.Tensor      # ID test
    y_id: torch.Tensor
    shifts: dict[str, torch.Tensor]       # shift name -> corrupted ID test images
    shift_info: dict[str, tuple[str, int]]


def _shrink(images: np.ndarray, size: int) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32).unsqueeze(1) / 255.0
    return x if x.shape[-1] == size else F.adaptive_avg_pool2d(x, size)


def digit_data(s: Settings, seed: int) -> DataSet:
    """The split, the corrupted test sets (corrupted at 32 x 32, then shrunk to ``image_size``)."""
    images, labels = digit_images()
    idx_tr, idx_te = split_digits(labels, derive_seed(seed, "split"))
    sets = corrupted_sets(images[idx_te], s.corruptions, s.severities, derive_seed(seed, "corruption"))
    return DataSet(_shrink(images[idx_tr], s.image_size), labels[idx_tr], _shrink(images[idx_te], s.image_size),
                   labels[idx_te], {n: _shrink(im, s.image_size) for n, (im, _) in sets.items()},
                   {n: info for n, (_, info) in sets.items()})


@dataclass
class Group:
    """One architecture's models (members x snapshots) as one grouped module."""

    arch: str
    model: nn.Module
    epochs: list[int]       # per model in the group


def train_zoo(s: Settings, data: DataSet, seed: int, tick=None) -> list[Group]:
    """Every architecture: ``members`` models trained together, snapshotted at ``snapshots``."""
    groups = []
    for i, spec in enumerate(s.zoo):
        arch = Arch(*parse_arch(spec))
        with torch.random.fork_rng(devices=[]):  # the init's stream only; the global RNG is untouched
            torch.manual_seed(derive_seed(seed, "init", i))
            model = arch.build(s.members, s.image_size, N_CLASSES)
        states = train_snapshots(model, data.x_train, data.y_train, s.snapshots, s.batch_size, s.train_lr,
                                 generator(seed, "order", i), progress=tick)
        group = arch.build(s.members * len(states), s.image_size, N_CLASSES)
        group.load_state_dict(stack_states(states))
        groups.append(Group(spec, group.eval(), [e for e in sorted(s.snapshots) for _ in range(s.members)]))
    return groups


def zoo_logits(groups: list[Group], method: str, x_ood: torch.Tensor, x_id: torch.Tensor, s: Settings,
               lr: float, with_features: bool = False):
    """Logits (K, N, C) of the whole zoo on ID and OOD data after adapting on x_ood; with features,
    also a list of per-group (features ID (k, N, D), features OOD (k, M, D))."""
    out_id, out_ood, feats = [], [], []
    for g in groups:
        m = adapt(g.model, method, x_ood, batch_size=s.tta_batch, lr=lr, passes=s.tent_passes,
                  n_classes=N_CLASSES)
        lid, fid = predict(m, x_id, s.tta_batch, with_features)
        lood, food = predict(m, x_ood, s.tta_batch, with_features)
        out_id.append(lid)
        out_ood.append(lood)
        feats.append((fid, food))
    return torch.cat(out_id), torch.cat(out_ood), feats


def _line(prefix: str, line: shift.LineFit | None) -> dict:
    values = (line.slope, line.bias, line.r2) if line is not None else (np.nan,) * 3
    return dict(zip((f"{prefix}_slope", f"{prefix}_bias", f"{prefix}_r2"), values))


def evaluate(logits_id, y_id, logits_ood, y_ood, where: dict, groups: list[Group]) -> dict[str, list[dict]]:
    """Rows of the models, lines and errors tables for one (seed, shift, method)."""
    ev = shift.evaluate_shift(logits_id, y_id, logits_ood, y_ood)
    est = ev.estimates
    archs = [g.arch for g in groups for _ in g.epochs]
    epochs = [e for g in groups for e in g.epochs]
    models = [{**where, "model": i, "arch": archs[i], "epochs": epochs[i], "acc_id": est.acc_id[i],
               "acc_ood": ev.acc_ood[i], **{f"est_{m}": np.nan if v is None else v[i]
                                             for m, v in est.by_method.items()}}
              for i in range(len(ev.acc_ood))]
    lines = [{**where, **_line("acc", ev.acc_line), **_line("agr", est.agr_line),
              "mean_acc_id": float(np.mean(est.acc_id)), "mean_acc_ood": float(np.mean(ev.acc_ood)),
              "n_usable_pairs": ev.n_usable_pairs, "refused": "; ".join(est.refusals)}]
    errors = [{**where, "estimator": m, "mae": mae, "refused": m in est.refusals}
              for m, (mae, _) in ev.errors().items()]
    return {"models": models, "lines": lines, "errors": errors}


def feature_rows(feats, y_id, y_ood, where: dict) -> list[dict]:
    """The single-scaling measures per model (``robustbook.tta.features.scaling_fit``)."""
    rows, i = [], 0
    for fid, food in feats:
        for k in range(fid.shape[0]):
            fit = scaling_fit(fid[k], y_id, food[k], y_ood, N_CLASSES)
            rows.append({**where, "model": i, **fit.as_dict()})
            i += 1
    return rows


def pairs_rows(logits_id, logits_ood, where: dict) -> list[dict]:
    """ID and OOD agreement of every pair i < j (for the scatter figures)."""
    agr_id = shift.pairwise_agreement(logits_id.argmax(-1))
    agr_ood = shift.pairwise_agreement(logits_ood.argmax(-1))
    i, j = np.triu_indices(len(agr_id), 1)
    return [{**where, "i": int(a), "j": int(b), "agr_id": agr_id[a, b], "agr_ood": agr_ood[a, b]}
            for a, b in zip(i, j)]


def selection_rows(groups, data: DataSet, name: str, s: Settings, seed: int, known: dict) -> list[dict]:
    """TENT at every learning rate of ``select_lrs`` on one shift: the zoo's true mean OOD accuracy
    and its label-free estimates (ALine-S, ALine-D, average confidence). ``known``: {lr: (logits
    ID, logits OOD)} already computed (the main TENT run), reused."""
    rows = []
    for lr in s.select_lrs:
        lid, lood = known[lr] if lr in known else zoo_logits(groups, "tent", data.shifts[name], data.x_id, s, lr)[:2]
        ev = shift.evaluate_shift(lid, data.y_id, lood, data.y_id)
        est = {m: (np.nan if v is None else float(np.mean(v))) for m, v in ev.estimates.by_method.items()}
        rows.append({"seed": seed, "shift": name, "lr": lr, "true": float(np.mean(ev.acc_ood)),
                     **{f"est_{m}": est[m] for m in ("aline_s", "aline_d", "ac")},
                     "acc_r2": ev.acc_line.r2 if ev.acc_line is not None else np.nan})
    return rows


def run_seed(s: Settings, seed: int, tick=None) -> dict[str, list[dict]]:
    """Everything for one reported seed (digits): {table name: rows}. The learning-rate selection
    runs on the highest severity of every corruption."""
    data = digit_data(s, seed)
    return run_shifts(s, data, train_zoo(s, data, seed, tick), seed, tick)


def paper_data(s: Settings) -> DataSet:
    """CIFAR-10 test (ID) and CIFAR-10-C (OOD) from ``data_dir`` (``robustbook.tta.paper``)."""
    x_id, y_id = load_cifar10_test(s.data_dir, s.n_test)
    shifts = {f"{c}-{v}": load_shift(s.data_dir, c, v, s.n_test) for c in s.corruptions for v in s.severities}
    info = {f"{c}-{v}": (c, v) for c in s.corruptions for v in s.severities}
    return DataSet(x_id[:0], y_id[:0], x_id, y_id, shifts, info)


def run_paper(s: Settings, seed: int, tick=None) -> dict[str, list[dict]]:
    """The paper preset: the trained torchvision models of ``models`` on CIFAR-10-C."""
    groups = [Group(name, load_model(s.data_dir, name), [0]) for name in s.models]
    return run_shifts(s, paper_data(s), groups, seed, tick)


def run_shifts(s: Settings, data: DataSet, groups: list[Group], seed: int, tick=None) -> dict[str, list[dict]]:
    """Every shift x method for one zoo: {table name: rows}."""
    tables: dict[str, list[dict]] = {k: [] for k in TABLES}
    for name, x_ood in data.shifts.items():
        corruption, severity = data.shift_info[name]
        focus, known = name == s.focus_shift, {}
        for method in ("plain", *s.methods):
            where = {"seed": seed, "shift": name, "corruption": corruption, "severity": severity, "method": method}
            lid, lood, feats = zoo_logits(groups, method, x_ood, data.x_id, s, s.tent_lr, with_features=focus)
            for key, rows in evaluate(lid, data.y_id, lood, data.y_id, where, groups).items():
                tables[key] += rows
            tables["pairs"] += pairs_rows(lid, lood, where)
            if focus:
                tables["features"] += feature_rows(feats, data.y_id, data.y_id, where)
            if method == "tent":
                known[s.tent_lr] = (lid, lood)
        if severity == max(s.severities):
            tables["selection"] += selection_rows(groups, data, name, s, seed, known)
        if tick is not None:
            tick()
    tables["checks"] = [{"seed": seed, **tent_check(groups, data, s)}]
    return tables


def tent_check(groups: list[Group], data: DataSet, s: Settings) -> dict[str, float]:
    """What TENT changed in the first architecture's models on the focus shift: the largest change
    of a non-BN parameter (must be 0) and of a BN affine parameter, and the mean entropy of the
    focus shift's predictions before (BN_Adapt) and after TENT."""
    x = data.shifts[s.focus_shift]
    model = groups[0].model
    bn = adapt(model, "bn_adapt", x, batch_size=s.tta_batch)
    tent = adapt(model, "tent", x, batch_size=s.tta_batch, lr=s.tent_lr, passes=s.tent_passes, n_classes=N_CLASSES)
    bn_names = set(collect_params(tent)[1])
    before, after = dict(model.named_parameters()), dict(tent.named_parameters())
    diff = {n: float((after[n] - before[n]).detach().abs().max()) for n in before}
    entropy = [float(softmax_entropy(predict(m, x, s.tta_batch)[0]).mean()) for m in (bn, tent)]
    return {"max_change_frozen": max(v for n, v in diff.items() if n not in bn_names),
            "max_change_bn": max(v for n, v in diff.items() if n in bn_names),
            "entropy_bn_adapt": entropy[0], "entropy_tent": entropy[1]}
