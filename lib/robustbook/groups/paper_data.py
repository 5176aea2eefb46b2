"""The paper's four group-robustness datasets, read from ``data_dir`` in their standard layouts
(Sagawa et al., 2020; Koh et al., 2021). Each loader returns one table with columns
``input`` (text, a (premise, hypothesis) pair, or an image path), ``y``, ``a`` (the spurious
attribute) and ``split`` (train / val / test); ``check_files`` reports what is missing, and where it
goes, before any work.

Layouts (relative to ``data_dir``):
* waterbirds: ``waterbird_complete95_forest2water2/metadata.csv`` (img_filename, y, split 0/1/2,
  place) and the images it names; y = waterbird, a = water background.
* celeba: ``celeba/list_attr_celeba.csv`` (image_id, 40 attributes in {-1, 1}),
  ``celeba/list_eval_partition.csv`` (image_id, partition 0/1/2), ``celeba/img_align_celeba/``;
  y = Blond_Hair, a = Male.
* multinli: ``multinli/data/metadata_random.csv`` (gold_label 0/1/2, sentence2_has_negation,
  split 0/1/2) with the sentence pair in columns sentence1, sentence2; a = negation word.
* civilcomments: ``civilcomments_v1.0/all_data_with_identities.csv`` (WILDS: comment_text,
  toxicity, split train/val/test, identity columns in [0, 1]); y = toxicity >= 0.5, a = any
  identity >= 0.5 (the coarse two-attribute grouping).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SPLIT_CODES = {0: "train", 1: "val", 2: "test"}
IDENTITIES = ("male", "female", "LGBTQ", "christian", "muslim", "other_religions", "black", "white")
FILES = {
    "waterbirds": ["waterbird_complete95_forest2water2/metadata.csv"],
    "celeba": ["celeba/list_attr_celeba.csv", "celeba/list_eval_partition.csv", "celeba/img_align_celeba"],
    "multinli": ["multinli/data/metadata_random.csv"],
    "civilcomments": ["civilcomments_v1.0/all_data_with_identities.csv"],
}
N_CLASSES = {"waterbirds": 2, "celeba": 2, "multinli": 3, "civilcomments": 2}
MODALITY = {"waterbirds": "image", "celeba": "image", "multinli": "text", "civilcomments": "text"}


def check_files(dataset: str, data_dir: str | None) -> None:
    """Raise FileNotFoundError naming every missing file of ``dataset`` and where it goes."""
    if dataset not in FILES:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(FILES)}")
    if data_dir is None:
        raise FileNotFoundError(f"{dataset}: data_dir is not set; it must hold {', '.join(FILES[dataset])}")
    missing = [f for f in FILES[dataset] if not (Path(data_dir) / f).exists()]
    if missing:
        raise FileNotFoundError(f"{dataset}: missing {', '.join(missing)} under {data_dir} "
                                f"(put the dataset's standard release there)")


def _waterbirds(root: Path) -> pd.DataFrame:
    folder = root / "waterbird_complete95_forest2water2"
    m = pd.read_csv(folder / "metadata.csv")
    return pd.DataFrame({"input": [str(folder / f) for f in m["img_filename"]], "y": m["y"].astype(int),
                         "a": m["place"].astype(int), "split": m["split"].map(SPLIT_CODES)})


def _celeba(root: Path) -> pd.DataFrame:
    folder = root / "celeba"
    attrs = pd.read_csv(folder / "list_attr_celeba.csv")
    parts = pd.read_csv(folder / "list_eval_partition.csv")
    m = attrs.merge(parts, on="image_id")
    return pd.DataFrame({"input": [str(folder / "img_align_celeba" / f) for f in m["image_id"]],
                         "y": (m["Blond_Hair"] == 1).astype(int), "a": (m["Male"] == 1).astype(int),
                         "split": m["partition"].map(SPLIT_CODES)})


def _multinli(root: Path) -> pd.DataFrame:
    m = pd.read_csv(root / "multinli/data/metadata_random.csv")
    pairs = list(zip(m["sentence1"].astype(str), m["sentence2"].astype(str)))
    return pd.DataFrame({"input": pairs, "y": m["gold_label"].astype(int),
                         "a": m["sentence2_has_negation"].astype(int), "split": m["split"].map(SPLIT_CODES)})


def _civilcomments(root: Path) -> pd.DataFrame:
    m = pd.read_csv(root / "civilcomments_v1.0/all_data_with_identities.csv")
    ident = m[[c for c in IDENTITIES if c in m.columns]].fillna(0)
    return pd.DataFrame({"input": m["comment_text"].astype(str), "y": (m["toxicity"] >= 0.5).astype(int),
                         "a": (ident >= 0.5).any(axis=1).astype(int), "split": m["split"].astype(str)})


LOADERS = {"waterbirds": _waterbirds, "celeba": _celeba, "multinli": _multinli,
           "civilcomments": _civilcomments}


def load_group_table(dataset: str, data_dir: str | None) -> pd.DataFrame:
    """The dataset as one table (input, y, a, split); checks the files first."""
    check_files(dataset, data_dir)
    table = LOADERS[dataset](Path(data_dir))
    bad = set(table["split"]) - {"train", "val", "test"}
    if bad:
        raise ValueError(f"{dataset}: unexpected split values {sorted(bad)}")
    return table.reset_index(drop=True)
