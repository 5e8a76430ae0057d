"""Prepared sources (pit_index.SetIndex) kept on local disk, so that a point-in-time join reads
neither the source nor sorts it again.

A dataset version never changes, so what a join prepares from it is computed once: the first
join (or ``relay features materialize``'s) builds it and writes it under
``$RELAY_HOME/cache/features/<key>/``, the key the sha256 of the dataset version's content hash,
the entity's join keys, the set's time columns and its features (their names and types): the
same data read the same way, one folder, whichever project or version of the definition reads
it. The folder holds the sorted search keys, event and created times (``.npy``), each key
column's values (``.npy`` for integers, else an Arrow file), the features that are not floats
(an Arrow file), the float features as row-major matrices, both in the source's row order, and
the order from index positions to those rows (``.npy``); it is read memory-mapped. As-of-known's
part is a folder of its own (``<key>-known``), built at the first as-of-known join. Writers
build in a temporary folder and rename it into place: a reader sees a whole folder or none, and
of two writers at once one rename wins and the other's folder is dropped. Nothing is ever
rewritten in place; deleting the folder only costs the next join its preparation. Each read
marks the manifest's modification time, so `relay features cache --prune --unused-days N` can
tell what is idle.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyarrow import feather

from relayml.domain.features import FeatureSet
from relayml.features.pit_index import KnownPart, SetIndex, float_blocks, known_part

__all__ = [
    "FORMAT",
    "cache_key",
    "cache_root",
    "cached_index",
    "cached_known",
    "load_index",
    "save_index",
]

FORMAT = 3  # bump when the layout changes: older folders are then never read


def cache_root(home: str | Path) -> Path:
    """The cache's folder under a RELAY_HOME."""
    return Path(home) / "cache" / "features"


def cache_key(content_hash: str, keys: Sequence[str], fs: FeatureSet) -> str:
    """The folder name of a dataset version prepared for a feature set's joins."""
    what = {
        "format": FORMAT,
        "data": content_hash,
        "keys": list(keys),
        "event_time": fs.event_time,
        "created_time": fs.created_time,
        "features": [[f.name, f.dtype] for f in fs.features],
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def _publish(folder: Path, write: Callable[[Path], None]) -> None:
    """Write into a temporary folder beside `folder`, then rename it into place (atomic); if
    another writer got there first, keep theirs."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = folder.parent / f".{folder.name}.{uuid.uuid4().hex}.tmp"
    temporary.mkdir()
    try:
        write(temporary)
        os.rename(temporary, folder)
    except OSError:
        if not (folder / "manifest.json").exists():
            raise
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def _frame_file(path: Path, frame: pd.DataFrame) -> None:
    frame.reset_index(drop=True).to_feather(path)


def _plain_integers(values: pd.Index) -> bool:
    dtype = values.dtype
    return isinstance(dtype, np.dtype) and dtype.kind in "iu"


def save_index(index: SetIndex, folder: Path, features: Sequence[str]) -> None:
    """Write the index (its frame's `features`, floats as row-major blocks) to `folder`."""

    def write(into: Path) -> None:
        np.save(into / "search.npy", index.search)
        np.save(into / "event.npy", index.event)
        np.save(into / "order.npy", index.order)
        if index.created is not None:
            np.save(into / "created.npy", index.created)
        for i, pairs in enumerate(index.pairs):
            np.save(into / f"pairs{i}.npy", pairs)
        kinds = []
        for i, values in enumerate(index.uniques):
            if _plain_integers(values):  # memory-mapped as they are: nothing to decode
                np.save(into / f"key{i}.npy", values.to_numpy())
                kinds.append("npy")
            else:
                _frame_file(into / f"key{i}.arrow", pd.DataFrame({"v": values}))
                kinds.append("arrow")
        blocks = list(index.blocks) or float_blocks(index.frame, features)
        for i, (_, block) in enumerate(blocks):
            np.save(into / f"block{i}.npy", block)
        floats = {n for names, _ in blocks for n in names}
        others = [n for n in features if n not in floats]
        if others:
            _frame_file(into / "others.arrow", index.frame[others])
        manifest = {
            "format": FORMAT, "tmin": index.tmin, "bits": index.bits, "shift": index.shift,
            "keys": kinds, "created": index.created is not None,
            "blocks": [list(names) for names, _ in blocks], "rows": len(index),
            "others": bool(others),
        }  # fmt: skip
        (into / "manifest.json").write_text(json.dumps(manifest))

    _publish(folder, write)


def _mark_read(folder: Path) -> None:
    """Note that a join read `folder` now (its manifest's modification time): `relay features
    cache --prune --unused-days N` removes folders no join has read for N days."""
    try:
        os.utime(folder / "manifest.json")
    except OSError:
        pass  # a read-only cache is still read


def load_index(folder: Path) -> SetIndex | None:
    """The index saved in `folder`, memory-mapped; None when there is none (of this format)."""
    try:
        manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("format") != FORMAT:
        return None
    _mark_read(folder)

    def array(name: str) -> np.ndarray:
        loaded: np.ndarray = np.load(folder / name, mmap_mode="r").view(np.ndarray)
        return loaded  # a plain array over the mapped file: no np.memmap wrapping each result

    def frame(name: str) -> pd.DataFrame:
        return feather.read_table(folder / name, memory_map=True).to_pandas()

    return SetIndex(
        uniques=[
            pd.Index(array(f"key{i}.npy"), copy=False)
            if kind == "npy"
            else pd.Index(frame(f"key{i}.arrow")["v"])
            for i, kind in enumerate(manifest["keys"])
        ],
        pairs=[array(f"pairs{i}.npy") for i in range(len(manifest["keys"]) - 1)],
        search=array("search.npy"), event=array("event.npy"),
        created=array("created.npy") if manifest["created"] else None,
        tmin=int(manifest["tmin"]), bits=int(manifest["bits"]), shift=int(manifest["shift"]),
        order=array("order.npy"),
        frame=frame("others.arrow") if manifest["others"] else pd.DataFrame(),
        blocks=tuple(
            (tuple(names), array(f"block{i}.npy")) for i, names in enumerate(manifest["blocks"])
        ),
    )  # fmt: skip


def cached_index(
    root: Path, key: str, build: Callable[[], SetIndex], features: Sequence[str]
) -> SetIndex:
    """The index in root/key, built (build()) and saved first when it is not there."""
    folder = root / key
    found = load_index(folder)
    if found is None:
        save_index(build(), folder, features)
        found = load_index(folder)
        assert found is not None
    return found


def cached_known(root: Path, key: str, index: SetIndex) -> SetIndex:
    """The index with its as-of-known part, read from root/<key>-known or built and saved."""
    folder = root / f"{key}-known"
    names = ("search", "available", "best")
    if not (folder / "best.npy").exists():
        part = known_part(index)

        def write(into: Path) -> None:
            for name in names:
                np.save(into / f"{name}.npy", getattr(part, name))
            (into / "manifest.json").write_text(json.dumps({"format": FORMAT}))

        _publish(folder, write)
    _mark_read(folder)
    loaded = [np.load(folder / f"{name}.npy", mmap_mode="r").view(np.ndarray) for name in names]
    return replace(index, known=KnownPart(*loaded))
