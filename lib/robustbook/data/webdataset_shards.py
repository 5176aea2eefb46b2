"""Read and write webdataset shards (the format of DataComp and clip_benchmark) with ``tarfile``.

A shard is a plain .tar file; a sample is the run of consecutive members sharing a key, the key
being the member name up to the first dot of its base name: ``000123.jpg``, ``000123.txt``,
``000123.json`` form one sample with fields ``jpg``, ``txt``, ``json``. DataComp shards hold
image + caption + metadata json; clip_benchmark's evaluation shards hold image + ``cls``.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path

IMAGE_FIELDS = ("jpg", "jpeg", "png", "webp")


def _split(name: str) -> tuple[str, str]:
    folder, _, base = name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext.lower()


def iter_shard(path: str | Path) -> Iterator[dict[str, bytes | str]]:
    """Samples of one shard in order: ``{"__key__": key, field: raw bytes, ...}``."""
    sample: dict[str, bytes | str] = {}
    with tarfile.open(path, "r") as tar:
        for member in tar:
            if not member.isfile():
                continue
            key, field = _split(member.name)
            if sample and key != sample["__key__"]:
                yield sample
                sample = {}
            sample["__key__"] = key
            sample[field] = tar.extractfile(member).read()
    if sample:
        yield sample


def iter_shards(paths: Iterable[str | Path]) -> Iterator[dict[str, bytes | str]]:
    """Samples of several shards, one shard after the other."""
    for path in paths:
        yield from iter_shard(path)


def list_shards(folder: str | Path) -> list[Path]:
    """The .tar files directly in ``folder``, sorted by name."""
    return sorted(Path(folder).glob("*.tar"))


def image_field(sample: dict) -> str | None:
    """The name of the sample's image field (jpg, jpeg, png or webp), None without one."""
    return next((f for f in IMAGE_FIELDS if f in sample), None)


def decode(sample: dict):
    """Decoded copy: the image as an RGB ``PIL.Image`` under ``"image"``, ``txt`` as str, ``json``
    as dict, ``cls`` as int; other fields stay bytes."""
    from PIL import Image

    out = dict(sample)
    field = image_field(sample)
    if field is not None:
        out["image"] = Image.open(io.BytesIO(sample[field])).convert("RGB")
    if "txt" in sample:
        out["txt"] = sample["txt"].decode("utf-8")
    if "json" in sample:
        out["json"] = json.loads(sample["json"])
    if "cls" in sample:
        out["cls"] = int(sample["cls"].decode("utf-8").strip())
    return out


def _encode(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):
        return json.dumps(value).encode("utf-8")
    return str(value).encode("utf-8")


def write_shard(path: str | Path, samples: Iterable[dict]) -> Path:
    """Write ``samples`` (``{"__key__": key, field: bytes | str | int | dict}``) as one shard;
    dicts become JSON, strings and ints UTF-8 text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for sample in samples:
            key = sample["__key__"]
            for field, value in sample.items():
                if field == "__key__":
                    continue
                data = _encode(value)
                info = tarfile.TarInfo(f"{key}.{field}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path
