"""DataComp-style webdataset shards, read with the ``webdataset`` library (and written for tests).

A shard is a plain .tar file; a sample is the run of consecutive members sharing a key, the key
being the member name up to the first dot of its base name: ``000123.jpg``, ``000123.txt``,
``000123.json`` form one sample with fields ``jpg``, ``txt``, ``json``. DataComp shards hold
image + caption + metadata json; clip_benchmark's evaluation shards hold image + ``cls``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import webdataset as wds

IMAGE_FIELDS = ("jpg", "jpeg", "png", "webp")
_BOOKKEEPING = ("__url__", "__local_path__")  # fields webdataset adds to every sample


def list_shards(folder: str | Path) -> list[Path]:
    """The .tar files directly in ``folder``, sorted by name."""
    return sorted(Path(folder).glob("*.tar"))


def image_field(sample: dict) -> str | None:
    """The name of the sample's image field (jpg, jpeg, png or webp), None without one."""
    return next((f for f in IMAGE_FIELDS if f in sample), None)


def read_shards(paths: Iterable[str | Path], *, decode: bool = True,
                select: Callable[[dict], bool] | None = None) -> Iterator[dict]:
    """Samples of the shards, in the given shard order and file order (no shuffling):
    ``{"__key__": key, field: value, ...}``. ``select(raw sample) -> bool`` drops samples before
    they are decoded. With ``decode``, webdataset's ``"pilrgb"`` decoder makes images RGB
    ``PIL.Image``s, ``txt`` a str, ``json`` a dict and ``cls`` an int; otherwise fields are bytes."""
    if isinstance(paths, (str, Path)):
        raise ValueError(f"paths must be a list of shard paths, not one path (its characters would be "
                         f"read as paths), got {str(paths)!r}; use [path]")
    urls = [str(p) for p in paths]
    if not urls:
        return
    logging.getLogger("webdataset").setLevel(logging.ERROR)
    dataset = wds.WebDataset(urls, shardshuffle=False, empty_check=False)
    if select is not None:
        dataset = dataset.select(select)
    if decode:
        dataset = dataset.decode("pilrgb")
    for sample in dataset:
        yield {k: v for k, v in sample.items() if k not in _BOOKKEEPING}


def write_shard(path: str | Path, samples: Iterable[dict]) -> Path:
    """Write ``samples`` (``{"__key__": key, field: bytes | str | int | dict}``) as one shard with
    webdataset's ``TarWriter``: bytes as they are, dicts as JSON, strings and ints as UTF-8 text.
    For test fixtures and small hand-made datasets."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wds.TarWriter(str(path)) as sink:
        for sample in samples:
            sink.write(dict(sample))
    return path
