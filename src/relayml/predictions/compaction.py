"""Compact the logs' closed days: one file per partition and day instead of one per flush.

A model server writes a file per flush interval and partition (86,400 a day at 1 s); readers of
a day that is over are faster on one file. Today is never touched (servers still write to it).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from relayml.errors import InvalidInput
from relayml.predictions._files import (
    COMPACTED_FROM,
    arrow_fs,
    join,
    open_fs,
    superseded,
    unify,
    visible_parts,
    write_table,
)
from relayml.predictions.layout import (
    DAY_KEY,
    check_partition,
    day_folder,
    project_partition,
    split_day_folder,
)

__all__ = ["compact", "compact_closed_days"]


def compact(
    url: str, partition: str, day: date | str, *, options: dict[str, Any] | None = None
) -> int:
    """Merge the part files of one partition and day into one file; returns how many were merged.

    The merged ``compact-*.parquet`` file is written first and records in its Parquet metadata
    the names of every file it replaces; readers skip files so named, then the parts are deleted.
    A reader thus never sees a row twice or misses one, even if compaction dies halfway (the next
    run deletes the leftovers). Run one compaction per partition and day at a time.
    """
    fs, root, local = open_fs(url, options)
    try:
        day_text = day.isoformat() if isinstance(day, date) else date.fromisoformat(day).isoformat()
    except ValueError:
        raise InvalidInput(f"Day {day!r} is not a date like 2026-11-23.") from None
    directory = join(root, day_folder(check_partition(partition), day_text))
    paths = [p for p in visible_parts(fs, directory, "") if p.rsplit("/", 1)[0] == directory]
    filesystem = arrow_fs(fs, local)
    schemas = {p: pq.read_schema(p, filesystem=filesystem) for p in paths}
    stale = superseded([(p, schema.metadata) for p, schema in schemas.items()])
    live = [p for p in paths if p not in stale]
    if len(live) > 1:
        schema = unify([schemas[p].remove_metadata() for p in live])
        parts = ds.dataset(live, schema=schema, filesystem=filesystem, format="parquet")
        try:
            merged = parts.to_table()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidInput(f"Files in {directory} have clashing column types: {exc}") from exc
        names = json.dumps(sorted(p.rsplit("/", 1)[1] for p in paths))
        merged = merged.replace_schema_metadata({COMPACTED_FROM: names.encode()})
        write_table(fs, local, directory, merged, prefix="compact")
    else:
        live = []
    gone = [p for p in paths if p in stale or p in live]
    if gone:
        fs.rm(gone)
    return len(live)


def _day_folders(fs: Any, root: str, project: str | None) -> list[tuple[str, str]]:
    """(partition, day) of every day folder under root (only the project's, if given)."""
    base = join(root, project_partition(project)) if project else root
    try:
        folders = [
            p
            for p in fs.find(base, withdirs=True)
            if p.rsplit("/", 1)[-1].startswith(f"{DAY_KEY}=")
        ]
    except FileNotFoundError:
        return []
    found = []
    for folder in folders:
        split = split_day_folder(folder[len(root) :].strip("/"))
        if split is not None:
            found.append(split)
    return sorted(set(found))


def compact_closed_days(
    logs: dict[str, str],
    project: str | None = None,
    *,
    options: dict[str, Any] | None = None,
    today: date | None = None,
) -> list[dict[str, Any]]:
    """Compact every day before today of each log ({name: url}); what was merged, per day."""
    current = (today or datetime.now(UTC).date()).isoformat()
    done = []
    for name, url in logs.items():
        fs, root, _local = open_fs(url, options)
        for partition, day in _day_folders(fs, root, project):
            if day >= current:
                continue
            merged = compact(url, partition, day, options=options)
            if merged:
                done.append({"log": name, "partition": partition, "day": day, "files": merged})
    return done
