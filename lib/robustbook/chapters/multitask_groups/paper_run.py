"""Preset ``paper``: the five methods on one of the paper's datasets with a transformers model,
one model at a time (GPU scale). The data files and the model are checked before any training."""

from __future__ import annotations

import pandas as pd
import torch

from robustbook.chapters.multitask_groups.config import Settings
from robustbook.chapters.multitask_groups.result import Result
from robustbook.groups.paper_data import MODALITY, N_CLASSES, load_group_table
from robustbook.groups.paper_models import check_model
from robustbook.groups.paper_train import jtt_pool, train_transformer
from robustbook.groups.train import selected


def check_inputs(s: Settings) -> pd.DataFrame:
    """Load the dataset table and check the model exists locally, before any work."""
    table = load_group_table(s.dataset, s.data_dir)
    check_model(s.model_name)
    return table


def _row(history, key: dict, n_groups: int) -> dict:
    sel = selected(history)
    row = {**key, "epoch": int(sel["epoch"][0]), "val_worst": float(sel["val_worst"][0]),
           "test_worst": float(sel["test_worst"][0]), "test_avg": float(sel["test_avg"][0])}
    return row | {f"group_{g}": float(v) for g, v in enumerate(sel["test_group"][0][:n_groups])}


def run_paper(s: Settings, device: torch.device, progress: bool = True) -> Result:
    """ERM, JTT, ERM + l1, MTL, MTL + l1 for every reported seed on ``s.dataset``."""
    table = check_inputs(s)
    n_classes, modality = N_CLASSES[s.dataset], MODALITY[s.dataset]
    kw = dict(model_name=s.model_name, modality=modality, n_classes=n_classes, epochs=s.epochs,
              lr=s.lr, batch_size=s.batch_size, mask_rate=s.mask_rate, device=device)
    weights = {"erm": (0.0, 0.0), "erm_l1": (0.0, s.w_reg_erm), "mtl": (s.w_mt_alone, 0.0), "mtl_l1": (s.w_mt, s.w_reg)}
    rows = []
    for seed in s.seeds:
        for method, (w_mt, w_reg) in weights.items():
            _, h = train_transformer(table, seed=seed, w_mt=w_mt, w_reg=w_reg, **kw,
                                     progress=f"{method} seed {seed}" if progress else False)
            rows.append(_row(h, {"task": "main", "method": method, "seed": seed}, 2 * n_classes))
        stage1, _ = train_transformer(table, seed=seed, **{**kw, "epochs": s.jtt_epochs})
        pool, n_err = jtt_pool(stage1, table, s.jtt_up, s.batch_size, device)
        del stage1
        _, h = train_transformer(table, seed=seed, pool=pool, **kw, progress=f"jtt seed {seed}" if progress else False)
        rows.append(_row(h, {"task": "main", "method": "jtt", "seed": seed}, 2 * n_classes)
                    | {"jtt_errors": n_err, "jtt_pool": len(pool)})
    counts = {"main": {sp: table[table["split"] == sp].assign(g=lambda t: t["y"] * 2 + t["a"])["g"]
                       .value_counts().reindex(range(2 * n_classes), fill_value=0).tolist()
                       for sp in ("train", "val", "test")}}
    methods = pd.DataFrame(rows)
    return Result(settings=s, methods=methods.assign(avg_gap=0.0), sensitivity=pd.DataFrame(),
                  designs=pd.DataFrame(), group_counts=counts)
