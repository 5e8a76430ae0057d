"""Reading the Parquet logs back (by partition, day and time), and compacting a day's files.

See relayml.serving.prediction_log for how they are written and what a crash can lose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from relayml.errors import InvalidInput
from relayml.serving.prediction_log import (
    _EPOCH,
    COMPACTED_FROM,
    _arrow_fs,
    _check_partition,
    _join,
    _open_fs,
    _write_table,
)

__all__ = ["compact", "read_log"]


def _visible_parts(fs: Any, root: str, prefix: str) -> list[str]:
    """Parquet files under root/prefix, without temp or hidden files."""
    base = _join(root, prefix)
    try:
        paths = fs.find(base)
    except FileNotFoundError:
        return []
    return sorted(
        p
        for p in paths
        if p.endswith(".parquet")
        and not any(s.startswith((".", "_")) for s in p[len(base) :].split("/"))
    )


def _keys_of(path: str, root: str) -> dict[str, str]:
    segments = path[len(root) :].strip("/").split("/")[:-1]
    return dict(s.split("=", 1) for s in segments if "=" in s)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _unify(schemas: list[Any]) -> Any:
    """One schema for all files; a column whose types clash (ints, then names) is read as text."""
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        by_name: dict[str, list[Any]] = {}
        for schema in schemas:
            for field in schema:
                by_name.setdefault(field.name, []).append(field)
        fields = []
        for name, found in by_name.items():
            try:
                fields.append(
                    pa.unify_schemas(
                        [pa.schema([f]) for f in found], promote_options="permissive"
                    ).field(name)
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                fields.append(pa.field(name, pa.string()))
        return pa.schema(fields)


def _millis(moment: datetime) -> int:
    return (_utc(moment) - _EPOCH) // timedelta(milliseconds=1)


def _superseded(paths_and_metadata: Sequence[tuple[str, Mapping[bytes, bytes] | None]]) -> set[str]:
    """Paths already merged into a compacted file that still exists."""
    out: set[str] = set()
    for path, metadata in paths_and_metadata:
        if metadata and COMPACTED_FROM in metadata:
            folder = path.rsplit("/", 1)[0]
            out.update(f"{folder}/{name}" for name in json.loads(metadata[COMPACTED_FROM]))
    return out


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
    fs, root, local = _open_fs(url, options)
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
    for path in _visible_parts(fs, root, partition_prefix):
        found = _keys_of(path, root)
        day = found.get("date")
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
    arrow_fs = _arrow_fs(fs, local)
    found_set = ds.dataset(
        keep,
        filesystem=arrow_fs,
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=root,
    )
    fragments = [(f, f.physical_schema) for f in found_set.get_fragments()]
    stale = _superseded([(f.path, schema.metadata) for f, schema in fragments])
    fragments = [(f, schema) for f, schema in fragments if f.path not in stale]
    schema = _unify([s.remove_metadata() for _, s in fragments] + [partition_schema])
    dataset = ds.FileSystemDataset(
        [f for f, _ in fragments], schema, ds.ParquetFileFormat(), filesystem=arrow_fs
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


def compact(
    url: str, partition: str, day: date | str, *, options: dict[str, Any] | None = None
) -> int:
    """Merge the part files of one partition and day into one file; returns how many were merged.

    The merged ``compact-*.parquet`` file is written first and records in its Parquet metadata
    the names of every file it replaces; readers skip files so named, then the parts are deleted.
    A reader thus never sees a row twice or misses one, even if compaction dies halfway (the next
    run deletes the leftovers). Run one compaction per partition and day at a time.
    """
    fs, root, local = _open_fs(url, options)
    try:
        day_text = day.isoformat() if isinstance(day, date) else date.fromisoformat(day).isoformat()
    except ValueError:
        raise InvalidInput(f"Day {day!r} is not a date like 2026-11-23.") from None
    directory = _join(root, _check_partition(partition), f"date={day_text}")
    paths = [p for p in _visible_parts(fs, directory, "") if p.rsplit("/", 1)[0] == directory]
    arrow_fs = _arrow_fs(fs, local)
    schemas = {p: pq.read_schema(p, filesystem=arrow_fs) for p in paths}
    stale = _superseded([(p, schema.metadata) for p, schema in schemas.items()])
    live = [p for p in paths if p not in stale]
    if len(live) > 1:
        schema = _unify([schemas[p].remove_metadata() for p in live])
        parts = ds.dataset(live, schema=schema, filesystem=arrow_fs, format="parquet")
        try:
            merged = parts.to_table()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidInput(f"Files in {directory} have clashing column types: {exc}") from exc
        names = json.dumps(sorted(p.rsplit("/", 1)[1] for p in paths))
        merged = merged.replace_schema_metadata({COMPACTED_FROM: names.encode()})
        _write_table(fs, local, directory, merged, prefix="compact")
    else:
        live = []
    gone = [p for p in paths if p in stale or p in live]
    if gone:
        fs.rm(gone)
    return len(live)
