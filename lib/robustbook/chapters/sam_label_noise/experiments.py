"""Chapter 01's three experiments, each a few named steps over the capability modules.

1. ``deep_runs``: SGD, SAM, L-SAM, J-SAM, SGD + the two J-SAM penalties (and two tuned-SGD
   controls: lr / 5, and a larger weight decay) on a noisy-label classification task; test accuracy
   per epoch. ``one_sam_runs``: the same decomposition with 1-SAM (one perturbation per example, the
   paper's variant) against mini-batch SAM on a training subset.
2. ``linear_weight_ratios``: 1-SAM on binary logistic regression; clean/noisy gradient weights.
3. ``two_layer_*``: J-SAM == SGD + implicit penalty on f = v^T W x; weight and feature norms.
"""

from __future__ import annotations

import functools

import pandas as pd
import torch
import torch.nn.functional as F

from robustbook.book.chapter import derive_seed, generator
from robustbook.chapters.sam_label_noise.config import Settings
from robustbook.data import TensorSplit, gaussian_binary_classification, load_digits_split
from robustbook.data.cifar import load_cifar10, normalize, random_crop_flip
from robustbook.data.noise import symmetric_label_noise
from robustbook.models import MLP, LinearClassifier, TwoLayerLinear, resnet18_gn
from robustbook.optim.penalties import jsam_two_layer_penalty, make_penalized_step
from robustbook.optim.sam_family import family_gradient, linear_sam_weights, make_family_step
from robustbook.train import accuracy, fit

DEEP_METHODS = ("sgd", "sam", "lsam", "jsam", "sgd_penalties", "sgd_low_lr", "sgd_tuned_wd")
CONTROLS = ("sgd_low_lr", "sgd_tuned_wd")
METHOD_LABELS = {"sgd": "SGD", "sam": "SAM", "lsam": "L-SAM (logit only)",
                 "jsam": "J-SAM (Jacobian only)", "sgd_penalties": "SGD + J-SAM penalties",
                 "sgd_low_lr": "SGD, lr / 5 (control)", "sgd_tuned_wd": "SGD, tuned weight decay (control)"}
ONE_SAM_METHODS = ("sgd", "sam", "lsam", "jsam")
SAM_MODE_LABELS = {"batch": "mini-batch (one ε per batch)", "1-sam": "1-SAM (one ε per example)"}
LOW_LR_FACTOR = 0.2
LINEAR_DIM, LINEAR_N, LINEAR_MARGIN, LINEAR_LR = 20, 400, 1.0, 0.5


# ---- 1. deep networks under label noise -------------------------------------------------------

def load_split(s: Settings, seed: int) -> TensorSplit:
    """The noisy-label split for one seed: digits (cpu, smoke) or CIFAR-10 from data_dir (paper)."""
    if s.dataset == "digits":
        return load_digits_split(noise_rate=s.label_noise_rate, seed=derive_seed(seed, "split"),
                                 n_train=s.n_train)
    x_tr, y_tr, x_te, y_te = load_cifar10(s.data_dir)
    if s.n_train is not None:
        x_tr, y_tr = x_tr[:s.n_train], y_tr[:s.n_train]
    y_noisy = symmetric_label_noise(y_tr, s.label_noise_rate, 10, generator(seed, "label-noise"))
    return TensorSplit(normalize(x_tr), y_noisy, y_tr, normalize(x_te), y_te)


def build_model(s: Settings, split: TensorSplit) -> torch.nn.Module:
    if s.dataset == "digits":
        return MLP(split.x_train.shape[1], 256, 10)
    return resnet18_gn(10)


def _evaluate(model: torch.nn.Module, split: TensorSplit) -> dict[str, float]:
    noisy = split.noisy_mask
    return {
        "test_acc": accuracy(model, split.x_test, split.y_test),
        # Fraction of noisy training examples whose *wrong* label the model reproduces.
        "memorized": accuracy(model, split.x_train[noisy], split.y_train[noisy]) if noisy.any() else 0.0,
        "clean_fit": accuracy(model, split.x_train[~noisy], split.y_train[~noisy]),
    }


def make_step(method: str, model: torch.nn.Module, s: Settings, sam_mode: str | None = None,
              rho: float | None = None):
    """The step of ``method``; every method shares SGD(momentum) as its base optimizer and, except
    the tuned-weight-decay control, the same weight decay."""
    lr = s.lr * (LOW_LR_FACTOR if method == "sgd_low_lr" else 1.0)
    wd = s.tuned_weight_decay if method == "sgd_tuned_wd" else s.weight_decay
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=s.momentum, weight_decay=wd)
    if method == "sgd_penalties":
        return make_penalized_step(model, opt, F.cross_entropy, weight_penalty=s.weight_penalty,
                                   feature_penalty=s.feature_penalty)
    variant = "sgd" if method in CONTROLS else method
    return make_family_step(model, opt, F.cross_entropy, variant=variant,
                            rho=s.rho if rho is None else rho,
                            per_example=(sam_mode or s.sam_mode) == "1-sam", chunk_size=32)


def train_one(method: str, split: TensorSplit, s: Settings, seed: int, device: torch.device,
              progress: bool = False, sam_mode: str | None = None, rho: float | None = None,
              epochs: int | None = None) -> pd.DataFrame:
    """Train one method with one seed; per-epoch metrics as a DataFrame (epoch 0 = init).
    Every method of a seed starts from the same weights and sees the same batches."""
    torch.manual_seed(derive_seed(seed, "init"))
    model = build_model(s, split).to(device)
    split = split.to(device)
    transform = None if s.dataset == "digits" else functools.partial(
        random_crop_flip, generator=generator(seed, "augment"))
    history = fit(model, split.x_train, split.y_train, make_step(method, model, s, sam_mode, rho),
                  epochs=epochs or s.epochs, batch_size=s.batch_size, generator=generator(seed, "data-order"),
                  evaluate=lambda m: _evaluate(m, split), transform=transform,
                  progress=f"{method} seed {seed}" if progress else False)
    frame = pd.DataFrame(history.metrics)
    frame.insert(0, "epoch", range(len(frame)))
    return frame.assign(method=method, seed=seed)


def deep_runs(s: Settings, device: torch.device, methods=DEEP_METHODS,
              progress: bool = True) -> pd.DataFrame:
    """All methods x seeds; long table with columns epoch, test_acc, memorized, clean_fit,
    method, seed."""
    frames = []
    for seed in s.seeds:
        split = load_split(s, seed)
        frames += [train_one(m, split, s, seed, device, progress) for m in methods]
    return pd.concat(frames, ignore_index=True)


def one_sam_runs(s: Settings, device: torch.device, progress: bool = True) -> pd.DataFrame:
    """SGD, SAM, L-SAM and J-SAM with mini-batch perturbations (rho = ``s.rho``) and with 1-SAM
    (rho = ``s.one_sam_rho``) on the first ``s.one_sam_n_train`` training examples of every seed,
    for ``s.one_sam_epochs`` epochs.
    Summary per (sam_mode, method, seed), as ``summarize_deep``. SGD does not depend on the mode:
    it is trained once and listed under both."""
    rows = []
    for seed in s.seeds:
        split = load_split(s, seed)
        n = min(s.one_sam_n_train, len(split.y_train))
        sub = TensorSplit(split.x_train[:n], split.y_train[:n], split.y_train_clean[:n],
                          split.x_test, split.y_test)
        sgd = train_one("sgd", sub, s, seed, device, progress, epochs=s.one_sam_epochs)
        for mode, rho in (("batch", s.rho), ("1-sam", s.one_sam_rho)):
            frames = [sgd] + [train_one(m, sub, s, seed, device, progress, sam_mode=mode, rho=rho,
                                        epochs=s.one_sam_epochs) for m in ONE_SAM_METHODS[1:]]
            rows.append(summarize_deep(pd.concat(frames)).assign(sam_mode=mode))
    return pd.concat(rows, ignore_index=True)


def summarize_deep(curves: pd.DataFrame) -> pd.DataFrame:
    """Per (method, seed): best (early-stopped) and final test accuracy, and the best epoch."""
    rows = []
    for (method, seed), g in curves.groupby(["method", "seed"], sort=False):
        best = g.loc[g["test_acc"].idxmax()]
        rows.append({"method": method, "seed": seed, "best_acc": best["test_acc"],
                     "best_epoch": int(best["epoch"]), "final_acc": g["test_acc"].iloc[-1],
                     "final_memorized": g["memorized"].iloc[-1]})
    return pd.DataFrame(rows)


# ---- 2. linear logistic regression: SAM up-weights clean examples -----------------------------

def _linear_split(s: Settings, seed: int) -> TensorSplit:
    return gaussian_binary_classification(n_train=LINEAR_N, n_test=2000, dim=LINEAR_DIM,
                                          noise_rate=s.linear_noise_rate, margin=LINEAR_MARGIN,
                                          seed=derive_seed(seed, "linear-data"))


def _weight_ratio(model: LinearClassifier, split: TensorSplit, rho: float) -> dict[str, float]:
    with torch.no_grad():
        signs = 2.0 * split.y_train - 1
        w = linear_sam_weights(model(split.x_train), signs, split.x_train.norm(dim=1), rho)
    noisy = split.noisy_mask
    return {"clean_weight": float(w[~noisy].mean()), "noisy_weight": float(w[noisy].mean()),
            "ratio": float(w[~noisy].mean() / w[noisy].mean()),
            "test_acc": accuracy(model, split.x_test, split.y_test)}


def linear_weight_ratios(s: Settings) -> pd.DataFrame:
    """Full-batch 1-SAM on a linear model for every rho and seed; per step: mean SAM gradient
    weight of clean and of noisy examples, their ratio, test accuracy."""
    frames = []
    for seed in s.seeds:
        split = _linear_split(s, seed)
        y = split.y_train.float()
        for rho in s.linear_rhos:
            torch.manual_seed(derive_seed(seed, "linear-init"))
            model = LinearClassifier(LINEAR_DIM)
            step = make_family_step(model, torch.optim.SGD(model.parameters(), lr=LINEAR_LR),
                                    F.binary_cross_entropy_with_logits, variant="sam", rho=rho)
            h = fit(model, split.x_train, y, step, epochs=s.linear_steps, batch_size=LINEAR_N,
                    generator=generator(seed, "linear-order"),
                    evaluate=lambda m, rho=rho, split=split: _weight_ratio(m, split, rho))
            frame = pd.DataFrame(h.metrics).assign(rho=rho, seed=seed)
            frames.append(frame.rename_axis("step").reset_index())
    return pd.concat(frames, ignore_index=True)


# ---- 3. two-layer linear network: J-SAM's implicit penalty -------------------------------------

def two_layer_gradient_gap(seed: int, rho: float = 0.5, width: int = 8) -> float:
    """Max |J-SAM gradient (autodiff, 1-SAM) - gradient of loss + closed-form penalty| in float64."""
    split = gaussian_binary_classification(n_train=64, n_test=1, dim=10, noise_rate=0.2,
                                           margin=1.0, seed=derive_seed(seed, "two-layer-data"))
    torch.manual_seed(derive_seed(seed, "two-layer-init"))
    model = TwoLayerLinear(10, width).double()
    x, y = split.x_train.double(), split.y_train.double()
    auto = family_gradient(model, F.binary_cross_entropy_with_logits, x, y, variant="jsam", rho=rho)
    model.zero_grad()
    loss = F.binary_cross_entropy_with_logits(model(x), y) + jsam_two_layer_penalty(model, x, 2 * y - 1, rho)
    loss.backward()
    return max(float((auto[k] - p.grad).abs().max()) for k, p in model.named_parameters())


def _norms(model: TwoLayerLinear, split: TensorSplit) -> dict[str, float]:
    with torch.no_grad():
        return {"last_layer_norm": float(model.head.weight.norm()),
                "feature_norm": float(model.features(split.x_train).norm(dim=1).mean()),
                "test_acc": accuracy(model, split.x_test, split.y_test)}


def two_layer_norms(s: Settings, rho: float = 0.1, width: int = 20) -> pd.DataFrame:
    """SGD vs J-SAM vs SAM (1-SAM) on f = v^T W x: last-layer weight norm ||v|| and mean feature
    norm ||W x|| over training (full batch, no weight decay)."""
    frames = []
    for seed in s.seeds:
        split = _linear_split(s, seed)
        y = split.y_train.float()
        for variant in ("sgd", "jsam", "sam"):
            torch.manual_seed(derive_seed(seed, "two-layer-init"))
            model = TwoLayerLinear(LINEAR_DIM, width)
            step = make_family_step(model, torch.optim.SGD(model.parameters(), lr=LINEAR_LR),
                                    F.binary_cross_entropy_with_logits, variant=variant, rho=rho)
            h = fit(model, split.x_train, y, step, epochs=s.linear_steps, batch_size=LINEAR_N,
                    generator=generator(seed, "linear-order"),
                    evaluate=lambda m, split=split: _norms(m, split))
            frames.append(pd.DataFrame(h.metrics).assign(method=variant, seed=seed)
                          .rename_axis("step").reset_index())
    return pd.concat(frames, ignore_index=True)
