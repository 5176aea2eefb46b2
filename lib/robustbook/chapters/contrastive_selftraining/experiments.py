"""Chapter 07's experiments: named steps over ``robustbook.selftrain`` and ``robustbook.data``.

Theory model (Sec. 4 of the paper): ERM, self-training (ST), contrastive (CL: linear probe on the
closed-form spectral contrastive features, and on an SGD-trained encoder) and STOC (ST from CL),
under shift and without it. Images (Sec. 5): ERM, SimCLR, FixMatch and STOC on coloured digits
(preset paper: WILDS Camelyon17).
"""

from __future__ import annotations

import copy

import pandas as pd
import torch
from tqdm.auto import tqdm

from robustbook.book.chapter import derive_seed, generator
from robustbook.data.spurious import ShiftSplit, SpuriousModel, coloured_digit_shift, sample_spurious
from robustbook.data.wilds_loaders import load_camelyon17_shift
from robustbook.models.resnet import resnet18_gn
from robustbook.models.tiny_cnn import TinyCNN
from robustbook.selftrain import image as img
from robustbook.selftrain import linear as lin
from robustbook.train import accuracy

THEORY_METHODS = {"erm": "ERM", "st": "ST", "cl": "CL", "stoc": "STOC", "cl_sgd": "CL (SGD encoder)",
                  "stoc_sgd": "STOC (SGD encoder)"}
IMAGE_METHODS = {"erm": "ERM", "simclr": "SimCLR", "fixmatch": "FixMatch", "stoc": "STOC"}


def theory_data(s, seed: int, shift: bool) -> dict[str, torch.Tensor]:
    """Labelled source, unlabelled source and target, and a target test set (5,000 points)."""
    model, g = SpuriousModel(dim_inv=s.dim_inv, mu_sp=s.mu_sp), generator(seed, "theory-data", int(shift))
    xs, ys = sample_spurious(model, s.n_labelled, domain="source", generator=g, shift=shift)
    us, _ = sample_spurious(model, s.n_unlabelled, domain="source", generator=g, shift=shift)
    ut, _ = sample_spurious(model, s.n_unlabelled, domain="target", generator=g, shift=shift)
    xt, yt = sample_spurious(model, 5000, domain="target", generator=g, shift=shift)
    return {"xs": xs, "ys": ys, "unlabelled": torch.cat([us, ut]), "ut": ut, "xt": xt, "yt": yt}


def _probe_and_self_train(s, d: dict, encoder: torch.Tensor | None, scale: float, record_every: int):
    """(probe accuracy, ST accuracy, ST path in input space) for features x -> x W^T (W = None:
    the raw input)."""
    def feats(x):
        return x if encoder is None else x @ encoder.T

    w, b = lin.fit_logistic(feats(d["xs"]), d["ys"], l2=s.l2)
    w_st, path = lin.entropy_self_train(feats(d["ut"]), w, b, steps=s.st_steps, lr=s.st_lr,
                                        logit_scale=scale, record_every=record_every)
    to_input = [p if encoder is None else encoder.T @ p for p in path]
    accs = [lin.linear_accuracy(feats(d["xt"]), d["yt"], p, b) for p in path]
    return accs[0], lin.linear_accuracy(feats(d["xt"]), d["yt"], w_st, b), to_input, accs


def theory_seed(s, seed: int, shift: bool) -> tuple[list[dict], list[dict], dict]:
    """Rows (method, target_acc), self-training path rows, and the encoder record of one seed."""
    model, d = SpuriousModel(dim_inv=s.dim_inv, mu_sp=s.mu_sp), theory_data(s, seed, shift)
    w_cf, lam = lin.spectral_closed_form(lin.second_moment(d["unlabelled"]), s.contrastive_k, s.aug_sigma)
    every = max(1, s.st_steps // 30)
    erm, st, erm_path, erm_accs = _probe_and_self_train(s, d, None, s.logit_scale, every)
    cl, stoc, cl_path, cl_accs = _probe_and_self_train(s, d, w_cf, s.logit_scale, every)
    acc = {"erm": erm, "st": st, "cl": cl, "stoc": stoc}
    encoder = {}
    if shift and s.sgd_steps > 0:
        w_sgd = lin.fit_spectral_sgd(d["unlabelled"], k=s.contrastive_k, sigma=s.aug_sigma, steps=s.sgd_steps,
                                     lr=0.01, batch_size=256, generator=generator(seed, "theory-sgd"))
        acc["cl_sgd"], acc["stoc_sgd"], _, _ = _probe_and_self_train(s, d, w_sgd, s.logit_scale, every)
        moment = lin.second_moment(d["unlabelled"])
        encoder = {"seed": seed, "optimum": lin.spectral_optimum_value(lam, s.aug_sigma),
                   "closed_form_loss": float(lin.population_spectral_loss(w_cf, moment, s.aug_sigma)),
                   "sgd_loss": float(lin.population_spectral_loss(w_sgd, moment, s.aug_sigma)),
                   "alignment": lin.subspace_alignment(w_sgd, w_cf)}
    rows = [{"seed": seed, "setting": "shift" if shift else "no-shift", "method": m, "target_acc": a}
            for m, a in acc.items()]
    w_star, e_sp = model.w_star(), model.spurious_axis()
    paths = [{"seed": seed, "setting": rows[0]["setting"], "init": init, "step": i * every,
              "invariant": float(p @ w_star / p.norm()), "spurious": float(p @ e_sp / p.norm()), "acc": a}
             for init, path, accs in (("ERM", erm_path, erm_accs), ("CL", cl_path, cl_accs))
             for i, (p, a) in enumerate(zip(path, accs))]
    return rows, paths, encoder


def scale_seed(s, seed: int) -> list[dict]:
    """ST and STOC target accuracy at every logit scale of ``s.logit_scales`` (shift setting)."""
    d = theory_data(s, seed, True)
    w_cf, _ = lin.spectral_closed_form(lin.second_moment(d["unlabelled"]), s.contrastive_k, s.aug_sigma)
    rows = []
    for scale in s.logit_scales:
        for method, enc in (("st", None), ("stoc", w_cf)):
            rows.append({"seed": seed, "logit_scale": scale, "method": method,
                         "target_acc": _probe_and_self_train(s, d, enc, scale, s.st_steps)[1]})
    return rows


def theory_runs(s, progress: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(accuracies, self-training paths, logit-scale sweep, encoder records) over the seeds."""
    rows, paths, scales, encoders = [], [], [], []
    for seed in tqdm(s.seeds, desc="theory model", disable=not progress, leave=False):
        for shift in (True, False):
            r, p, e = theory_seed(s, seed, shift)
            rows += r
            paths += p
            encoders += [e] if e else []
        scales += scale_seed(s, seed)
    return pd.DataFrame(rows), pd.DataFrame(paths), pd.DataFrame(scales), pd.DataFrame(encoders)


# ---- images ------------------------------------------------------------------------------------

def load_images(s, seed: int) -> ShiftSplit:
    """The image shift of one seed: coloured digits, or Camelyon17 from ``data_dir``."""
    g = generator(seed, "image-split")
    if s.image_dataset == "camelyon17":
        return load_camelyon17_shift(s.data_dir, max_per_domain=s.max_images, generator=g)
    return coloured_digit_shift(p_spurious=s.p_spurious, generator=g, n_labels=s.n_labels)


def new_model(s, split: ShiftSplit, seed: int) -> torch.nn.Module:
    torch.manual_seed(derive_seed(seed, "image-init"))
    if s.backbone == "resnet18":
        return resnet18_gn(split.n_classes, s.width)
    return TinyCNN(split.x_source.shape[1], split.n_classes, s.width)


def image_seed(s, seed: int, device: torch.device, progress: bool) -> tuple[list[dict], list[dict]]:
    """ERM, SimCLR (pretrain + fine-tune), FixMatch (from ERM) and STOC (FixMatch from SimCLR)."""
    d = load_images(s, seed)
    d = ShiftSplit(*(t.to(device) for t in (d.x_source, d.y_source, d.x_target, d.y_target, d.x_test, d.y_test)))
    init = new_model(s, d, seed).to(device)
    models = {"erm": copy.deepcopy(init), "simclr": copy.deepcopy(init)}
    bar = f"seed {seed}" if progress else False
    sup = dict(epochs=s.image_epochs, batch_size=32, lr=s.lr)
    img.train_source(models["erm"], d.x_source, d.y_source, generator=generator(seed, "erm"), progress=bar, **sup)
    img.simclr_pretrain(models["simclr"], torch.cat([d.x_source, d.x_target]), epochs=s.simclr_epochs,
                        batch_size=128, lr=s.lr, temperature=s.temperature,
                        generator=generator(seed, "simclr"), progress=bar)
    img.train_source(models["simclr"], d.x_source, d.y_source, generator=generator(seed, "fine-tune"),
                     progress=bar, **sup)
    logs = []
    for name, start in (("fixmatch", "erm"), ("stoc", "simclr")):
        models[name] = copy.deepcopy(models[start])
        log = img.fixmatch_train(models[name], d.x_source, d.y_source, d.x_target, epochs=s.fixmatch_epochs,
                                 batch_size=32, mu=s.mu, tau=s.tau, lam=s.lam, lr=s.lr / 3,
                                 generator=generator(seed, name), y_unlab=d.y_target, progress=bar)
        logs += [{"seed": seed, "method": name, "epoch": e + 1, "mask_rate": m, "pseudo_acc": p}
                 for e, (m, p) in enumerate(zip(log.mask_rate, log.pseudo_acc))]
    rows = [{"seed": seed, "method": m, "target_acc": accuracy(model, d.x_test, d.y_test),
             "source_acc": accuracy(model, d.x_source, d.y_source)} for m, model in models.items()]
    return rows, logs


def image_runs(s, device: torch.device, progress: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, logs = [], []
    for seed in tqdm(s.seeds, desc="images", disable=not progress, leave=False):
        r, lg = image_seed(s, seed, device, progress)
        rows += r
        logs += lg
    return pd.DataFrame(rows), pd.DataFrame(logs)
