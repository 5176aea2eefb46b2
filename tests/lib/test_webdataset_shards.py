"""Webdataset shards: written by ``write_shard`` (webdataset's TarWriter), read back by
``read_shards`` (the webdataset library), as the paper preset reads DataComp shards."""

import io

import numpy as np
import pytest
from PIL import Image
from webdataset.autodecode import DecodingError

from robustbook.data.webdataset_shards import image_field, list_shards, read_shards, write_shard


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_round_trip_of_a_datacomp_style_shard(tmp_path):
    samples = [{"__key__": f"{i:06d}", "png": _png(10 * i), "txt": f"caption {i}", "json": {"quality": i / 10}}
               for i in range(3)]
    path = write_shard(tmp_path / "train" / "00000.tar", samples)
    assert list_shards(tmp_path / "train") == [path]
    read = list(read_shards([path]))
    assert [s["__key__"] for s in read] == ["000000", "000001", "000002"]
    item = read[2]
    assert item["txt"] == "caption 2" and item["json"] == {"quality": 0.2}
    assert image_field(item) == "png" and item["png"].mode == "RGB"
    assert item["png"].size == (4, 4) and item["png"].getpixel((0, 0)) == (20, 20, 20)
    raw = next(read_shards([path], decode=False))
    assert raw["png"] == samples[0]["png"] and raw["json"] == b'{"quality": 0.0}'
    assert set(raw) == {"__key__", "png", "txt", "json"}  # webdataset's bookkeeping fields dropped


def test_shards_are_read_in_the_given_order_and_keys_keep_their_folders(tmp_path):
    a = write_shard(tmp_path / "a.tar", [{"__key__": "x/1", "cls": 7}, {"__key__": "x/2", "cls": 3}])
    b = write_shard(tmp_path / "b.tar", [{"__key__": "y/1", "cls": 5}])
    read = list(read_shards([b, a, b]))
    assert [(s["__key__"], s["cls"]) for s in read] == [("y/1", 5), ("x/1", 7), ("x/2", 3), ("y/1", 5)]
    assert image_field(read[0]) is None and list(read_shards([])) == []


def test_select_drops_samples_before_decoding(tmp_path):
    path = write_shard(tmp_path / "s.tar", [{"__key__": "good", "png": _png(1), "txt": "ok"},
                                            {"__key__": "bad", "png": b"not a png", "txt": "broken"}])
    kept = list(read_shards([path], select=lambda s: s["__key__"] != "bad"))
    assert [s["__key__"] for s in kept] == ["good"]
    with pytest.raises(DecodingError):  # decoding the broken image fails when it is not dropped
        list(read_shards([path]))
