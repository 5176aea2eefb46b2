"""The webdataset shard reader on tiny shards written by the test itself."""

import io
import tarfile

import numpy as np
from PIL import Image

from robustbook.data.webdataset_shards import (
    decode,
    image_field,
    iter_shard,
    iter_shards,
    list_shards,
    write_shard,
)


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_round_trip_of_a_datacomp_style_shard(tmp_path):
    samples = [{"__key__": f"{i:06d}", "png": _png(10 * i), "txt": f"caption {i}", "json": {"quality": i / 10}}
               for i in range(3)]
    path = write_shard(tmp_path / "train" / "00000.tar", samples)
    read = list(iter_shard(path))
    assert [s["__key__"] for s in read] == ["000000", "000001", "000002"]
    item = decode(read[2])
    assert item["txt"] == "caption 2" and item["json"] == {"quality": 0.2}
    assert item["image"].size == (4, 4) and item["image"].getpixel((0, 0)) == (20, 20, 20)
    assert image_field(read[0]) == "png" and list_shards(tmp_path / "train") == [path]


def test_samples_are_runs_of_members_sharing_a_key_and_folders_are_kept(tmp_path):
    path = tmp_path / "mixed.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in [("a/1.jpg", b"x"), ("a/1.cls", b"7\n"), ("a/2.seg.png", b"y"), ("a/2.cls", b"3")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    read = list(iter_shards([path, path]))
    assert len(read) == 4
    assert read[0] == {"__key__": "a/1", "jpg": b"x", "cls": b"7\n"}
    assert set(read[1]) == {"__key__", "seg.png", "cls"} and image_field(read[1]) is None
    assert decode({"__key__": "k", "cls": b" 7\n"})["cls"] == 7
