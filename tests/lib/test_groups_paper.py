"""robustbook.groups paper preset: the four datasets' loaders on tiny files written in their real
layouts, the missing-file and missing-model reports, and one training epoch of the transformers
multitask model (a tiny BERT and a tiny ViT saved to disk, loaded by path, offline)."""

import numpy as np
import pandas as pd
import pytest
import torch

from robustbook.groups.paper_data import check_files, load_group_table
from robustbook.groups.paper_models import TransformerMTL, check_model, random_token_mask
from robustbook.groups.paper_train import jtt_pool, train_transformer

WORDS = ["the", "a", "comment", "is", "nice", "bad", "awful", "great", "people", "and", "not", "very"]


def write_civilcomments(root, n=12):
    folder = root / "civilcomments_v1.0"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = {"comment_text": [" ".join(rng.choice(WORDS, 5)) for _ in range(n)],
            "toxicity": np.tile([0.0, 0.7, 0.2, 0.9], n // 4 + 1)[:n],
            "split": (["train"] * (n // 2) + ["val"] * (n // 4) + ["test"] * (n - n // 2 - n // 4)),
            "male": np.tile([0.0, 0.0, 1.0, 0.6], n // 4 + 1)[:n], "muslim": [np.nan] * n,
            "female": [0.0] * n}
    pd.DataFrame(rows).to_csv(folder / "all_data_with_identities.csv", index=False)
    return folder


def save_tiny_bert(path):
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    path.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(path / "vocab.txt")).save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    BertForMaskedLM(config).save_pretrained(path)
    return path


def save_tiny_vit(path):
    from transformers import ViTConfig, ViTForMaskedImageModeling

    torch.manual_seed(0)
    config = ViTConfig(image_size=16, patch_size=4, hidden_size=16, num_hidden_layers=1,
                       num_attention_heads=2, intermediate_size=32, encoder_stride=4)
    ViTForMaskedImageModeling(config).save_pretrained(path)
    return path


def write_waterbirds(root, n=12):
    from PIL import Image

    folder = root / "waterbird_complete95_forest2water2"
    (folder / "001.Bird").mkdir(parents=True, exist_ok=True)
    names = [f"001.Bird/img_{i}.jpg" for i in range(n)]
    for i, name in enumerate(names):
        Image.fromarray(np.full((20, 24, 3), 20 * i, dtype=np.uint8)).save(folder / name)
    pd.DataFrame({"img_id": range(n), "img_filename": names, "y": [i % 2 for i in range(n)],
                  "split": [0] * (n // 2) + [1] * (n // 4) + [2] * (n - n // 2 - n // 4),
                  "place": [(i // 2) % 2 for i in range(n)], "place_filename": ["x"] * n}
                 ).to_csv(folder / "metadata.csv", index=False)


def test_civilcomments_layout_labels_and_coarse_identity_attribute(tmp_path):
    write_civilcomments(tmp_path, n=8)
    t = load_group_table("civilcomments", str(tmp_path))
    assert t["y"].tolist() == [0, 1, 0, 1, 0, 1, 0, 1]            # toxicity >= 0.5
    assert t["a"].tolist() == [0, 0, 1, 1, 0, 0, 1, 1]            # any identity >= 0.5 (NaN = 0)
    assert t["split"].tolist() == ["train"] * 4 + ["val"] * 2 + ["test"] * 2


def test_waterbirds_layout(tmp_path):
    write_waterbirds(tmp_path, n=8)
    t = load_group_table("waterbirds", str(tmp_path))
    assert t["a"].tolist() == [0, 0, 1, 1, 0, 0, 1, 1] and t["y"].tolist() == [0, 1] * 4
    assert t["split"].tolist() == ["train"] * 4 + ["val"] * 2 + ["test"] * 2
    assert t["input"][0].endswith("waterbird_complete95_forest2water2/001.Bird/img_0.jpg")


def test_celeba_layout_blond_hair_and_male(tmp_path):
    folder = tmp_path / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    ids = [f"{i:06d}.jpg" for i in range(1, 5)]
    pd.DataFrame({"image_id": ids, "Blond_Hair": [1, -1, 1, -1], "Male": [-1, -1, 1, 1],
                  "Smiling": [1, 1, 1, 1]}).to_csv(folder / "list_attr_celeba.csv", index=False)
    pd.DataFrame({"image_id": ids[::-1], "partition": [2, 1, 0, 0]}).to_csv(
        folder / "list_eval_partition.csv", index=False)
    t = load_group_table("celeba", str(tmp_path))
    assert t["y"].tolist() == [1, 0, 1, 0] and t["a"].tolist() == [0, 0, 1, 1]
    assert t["split"].tolist() == ["train", "train", "val", "test"]   # merged by image_id, not by row


def test_multinli_layout(tmp_path):
    folder = tmp_path / "multinli" / "data"
    folder.mkdir(parents=True)
    pd.DataFrame({"gold_label": [0, 1, 2], "sentence2_has_negation": [0, 1, 1], "split": [0, 1, 2],
                  "sentence1": ["a b", "c d", "e f"], "sentence2": ["x", "not y", "no z"]}).to_csv(
        folder / "metadata_random.csv", index=False)
    t = load_group_table("multinli", str(tmp_path))
    assert t["y"].tolist() == [0, 1, 2] and t["a"].tolist() == [0, 1, 1]
    assert t["input"][1] == ("c d", "not y")


@pytest.mark.parametrize("dataset, missing", [
    ("waterbirds", "waterbird_complete95_forest2water2/metadata.csv"),
    ("celeba", "celeba/list_attr_celeba.csv, celeba/list_eval_partition.csv, celeba/img_align_celeba"),
    ("multinli", "multinli/data/metadata_random.csv"),
    ("civilcomments", "civilcomments_v1.0/all_data_with_identities.csv"),
])
def test_missing_files_are_named_with_where_they_go(tmp_path, dataset, missing):
    with pytest.raises(FileNotFoundError, match=f"missing {missing} under {tmp_path}"):
        check_files(dataset, str(tmp_path))


def test_missing_model_is_reported_offline(tmp_path):
    with pytest.raises(FileNotFoundError, match="not available offline"):
        check_model(str(tmp_path / "nothing-here"))


def test_random_token_mask_never_masks_special_tokens_and_masks_at_least_one():
    ids = torch.tensor([[2, 5, 6, 3, 0], [2, 7, 3, 0, 0]])
    special = torch.tensor([[1, 0, 0, 1, 1], [1, 0, 1, 1, 1]], dtype=torch.bool)
    mask = random_token_mask(ids, special, 0.0, torch.Generator().manual_seed(0))
    assert mask.tolist() == [[False, True, False, False, False], [False, True, False, False, False]]
    full = random_token_mask(ids, special, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(full, ~special)


@pytest.mark.slow
def test_tiny_bert_trains_one_epoch_with_mlm_and_jtt_pool(tmp_path):
    write_civilcomments(tmp_path, n=16)
    table = load_group_table("civilcomments", str(tmp_path))
    bert = save_tiny_bert(tmp_path / "bert")
    model, h = train_transformer(table, model_name=str(bert), modality="text", n_classes=2, seed=0,
                                 epochs=1, lr=1e-3, batch_size=4, mask_rate=0.3, w_mt=1.0, w_reg=0.1)
    assert h.val_group.shape == (1, 2, 4) and h.test_avg.shape == (1, 2)
    pool, n_err = jtt_pool(model, table, up=3, batch_size=4, device="cpu")
    assert len(pool) == 8 + 2 * n_err


@pytest.mark.slow
def test_tiny_vit_trains_one_epoch_with_masked_image_modelling(tmp_path):
    write_waterbirds(tmp_path, n=12)
    table = load_group_table("waterbirds", str(tmp_path))
    vit = save_tiny_vit(tmp_path / "vit")
    model = TransformerMTL(str(vit), 2, "image")
    before = {k: v.clone() for k, v in model.pretrain.named_parameters() if "decoder" in k}
    _, h = train_transformer(table, model_name=str(vit), modality="image", n_classes=2, seed=0,
                             epochs=1, lr=1e-3, batch_size=3, mask_rate=0.5, w_mt=1.0, w_reg=0.1)
    assert h.val_group.shape == (1, 2, 4)
    assert before  # the SimMIM decoder exists (trained as the auxiliary head)
