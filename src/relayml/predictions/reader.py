"""Reading the Parquet logs back, by partition, day and time.

See relayml.predictions.writer for how they are written and what a crash can lose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from relayml.errors import InvalidInput
from relayml.predictions._files import EPOCH, arrow_fs, open_fs, superseded, unify, visible_parts
from relayml.predictions.layout import DAY_KEY

__all__ = ["read_log"]


def _keys_of(path: str, root: str) -> dict[str, str]:
    segments = path[len(root) :].strip("/").split("/")[:-1]
    return dict(s.split("=", 1) for s in segments if "=" in s)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _millis(moment: datetime) -> int:
    return (_utc(moment) - EPOCH) // timedelta(milliseconds=1)


def read_log(
    url: str,
    partition_prefix: str = "",
    *,
    options: dict[str, Any] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    columns: Sequence[str] | None = None,
    filters: Mapping[str, str] | None = None,
) -> pa.Table:
    """Read the rows under `partition_prefix` whose day and timestamp fall in [start, end]."""
    fs, root, local = open_fs(url, options)
    for attempt in range(3):
        try:
            return _read_once(fs, root, local, partition_prefix, start, end, columns, filters)
        except FileNotFoundError:  # a compaction removed a part between listing and reading
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _read_once(
    fs: Any,
    root: str,
    local: bool,
    partition_prefix: str,
    start: datetime | None,
    end: datetime | None,
    columns: Sequence[str] | None,
    filters: Mapping[str, str] | None,
) -> pa.Table:
    low = _utc(start).date().isoformat() if start else None
    high = _utc(end).date().isoformat() if end else None
    keep: list[str] = []
    keys: dict[str, None] = {}
    for path in visible_parts(fs, root, partition_prefix):
        found = _keys_of(path, root)
        day = found.get(DAY_KEY)
        if day is not None and ((low and day < low) or (high and day > high)):
            continue
        if filters and any(k in found and found[k] != v for k, v in filters.items()):
            continue
        keep.append(path)
        keys.update(dict.fromkeys(found))
    if not keep:
        return pa.table({c: pa.array([], pa.null()) for c in columns or ()})
    partition_schema = pa.schema([(k, pa.string()) for k in keys])
    partitioning = ds.HivePartitioning(partition_schema, segment_encoding="none")
    filesystem = arrow_fs(fs, local)
    found_set = ds.dataset(
        keep,
        filesystem=filesystem,
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=root,
    )
    fragments = [(f, f.physical_schema) for f in found_set.get_fragments()]
    stale = superseded([(f.path, schema.metadata) for f, schema in fragments])
    fragments = [(f, schema) for f, schema in fragments if f.path not in stale]
    schema = unify([s.remove_metadata() for _, s in fragments] + [partition_schema])
    dataset = ds.FileSystemDataset(
        [f for f, _ in fragments], schema, ds.ParquetFileFormat(), filesystem=filesystem
    )
    expression = None
    conditions = []
    for key, value in (filters or {}).items():
        if key not in schema.names:
            raise InvalidInput(f"Cannot filter on {key!r}: the log has {schema.names}.")
        conditions.append(ds.field(key).cast(pa.string()) == value)
    if "timestamp" in schema.names and pa.types.is_integer(schema.field("timestamp").type):
        if start:
            conditions.append(ds.field("timestamp") >= _millis(start))
        if end:
            conditions.append(ds.field("timestamp") <= _millis(end))
    for condition in conditions:
        expression = condition if expression is None else expression & condition
    missing = [c for c in columns or () if c not in schema.names]
    if missing:
        raise InvalidInput(f"No column {missing} in the log; it has {schema.names}.")
    try:
        return dataset.to_table(columns=list(columns) if columns else None, filter=expression)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(f"Files under {root} have columns of clashing types: {exc}") from exc
