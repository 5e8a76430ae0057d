"""How step outputs become blobs and come back: one file per output, addressed by its sha256.

| kind     | for                                  | stored as                               |
|----------|--------------------------------------|-----------------------------------------|
| pandas   | pandas.DataFrame                     | Parquet (zstd, fixed writer settings)   |
| series   | pandas.Series                        | Parquet of a one-column frame           |
| arrow    | pyarrow.Table                        | Parquet                                 |
| numpy    | numpy.ndarray (not of objects)       | .npy                                    |
| json     | None, bools, numbers, str, lists and str-keyed dicts of them | canonical JSON  |
| pickle   | anything else cloudpickle can write  | cloudpickle                             |

The writers are deterministic, so the sha256 of the bytes is a content hash: the same value
gives the same hash in every run and on every executor (with the same library versions). A
DataFrame that Parquet refuses (columns of arbitrary objects) falls back to pickle. A value no
writer takes is an InvalidInput naming the step and the type.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from relayml.errors import InvalidInput

__all__ = ["StepIO", "load_value", "store_value", "type_name"]

# Parquet settings fixed here: the bytes (and so the hash) depend on the data alone.
_PARQUET = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_version": "1.0",
}


class StepIO(Protocol):
    """Where steps find cached results and keep their outputs."""

    def lookup(self, cache_key: str) -> dict[str, Any] | None:
        """The stored entry for a cache key ({'outputs', 'step_run_id'}) when its blobs exist."""
        ...

    def put(self, path: Path) -> tuple[str, int]:
        """Store a file by content; (sha256, size)."""
        ...

    def fetch(self, sha256: str, dest: Path) -> Path:
        """Write the verified blob to dest."""
        ...


def type_name(value: Any) -> str:
    """'module.QualName' of the value's type."""
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _is_json(value: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if value is None or isinstance(value, bool | str):
        return True
    if type(value) is int:
        return True
    if type(value) is float:
        return not math.isnan(value) and not math.isinf(value)
    if type(value) is list:
        return all(_is_json(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(isinstance(k, str) and _is_json(v, depth + 1) for k, v in value.items())
    return False


def _write_parquet(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path, **_PARQUET)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _writers(value: Any) -> list[tuple[str, Callable[[Path], None]]]:
    """The ways this value can be written, best first."""
    found: list[tuple[str, Callable[[Path], None]]] = []
    pandas = sys.modules.get("pandas")
    pyarrow = sys.modules.get("pyarrow")
    numpy = sys.modules.get("numpy")
    if pandas is not None and isinstance(value, pandas.DataFrame | pandas.Series):
        import pyarrow as pa

        if isinstance(value, pandas.Series):
            frame = value.to_frame(name="__series__" if value.name is None else value.name)
            kind = "series"
        else:
            frame, kind = value, "pandas"
        found.append((kind, lambda p: _write_parquet(pa.Table.from_pandas(frame), p)))
    elif pyarrow is not None and isinstance(value, pyarrow.Table):
        found.append(("arrow", lambda p: _write_parquet(value, p)))
    elif numpy is not None and isinstance(value, numpy.ndarray) and not value.dtype.hasobject:

        def write_npy(path: Path) -> None:
            with open(path, "wb") as fh:  # a file object: np.save would add ".npy" to a name
                numpy.save(fh, value, allow_pickle=False)

        found.append(("numpy", write_npy))
    elif _is_json(value):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        found.append(("json", lambda p: _write_text(p, text)))

    def pickle(path: Path) -> None:
        import cloudpickle

        data = cloudpickle.dumps(value, protocol=5)
        path.write_bytes(data)

    found.append(("pickle", pickle))
    return found


def store_value(io_: StepIO, value: Any, step: str, output: str, workdir: Path) -> dict[str, Any]:
    """Write one output; its record {'sha256', 'size', 'kind', 'type'}."""
    path = workdir / f"{output}.out"
    last: BaseException | None = None
    for kind, write in _writers(value):
        try:
            write(path)
        except Exception as exc:  # the next writer may take it; pickle is the last resort
            last = exc
            path.unlink(missing_ok=True)
            continue
        try:
            sha256, size = io_.put(path)
        finally:
            path.unlink(missing_ok=True)
        return {"sha256": sha256, "size": size, "kind": kind, "type": type_name(value)}
    reason = f"{type(last).__name__}: {last}" if last is not None else "no writer takes it"
    raise InvalidInput(
        f"step {step!r} returned a {type_name(value)} (output {output!r}), which cannot be "
        f"stored ({reason[:300]}). Return a pandas DataFrame, an Arrow table, a numpy array or "
        "a picklable value."
    )


def _read(kind: str, path: Path, record: dict[str, Any]) -> Any:
    if kind in ("pandas", "series", "arrow"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if kind == "arrow":
            return table
        frame = table.to_pandas()
        if kind == "series":
            series = frame.iloc[:, 0]
            return series.rename(None) if series.name == "__series__" else series
        return frame
    if kind == "numpy":
        import numpy

        return numpy.load(path, allow_pickle=False)
    if kind == "json":
        return json.loads(path.read_text(encoding="utf-8"))
    if kind == "pickle":
        import cloudpickle

        return cloudpickle.loads(path.read_bytes())
    raise InvalidInput(f"output kind {kind!r} of blob {record.get('sha256')} is unknown.")


def load_value(io_: StepIO, record: dict[str, Any]) -> Any:
    """The value an output record points to, read back from the blob store."""
    with tempfile.TemporaryDirectory(prefix="relay-in-") as tmp:
        path = io_.fetch(record["sha256"], Path(tmp) / "value")
        return _read(record["kind"], path, record)
