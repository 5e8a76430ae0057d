"""What the prediction log's writer (relayml.predictions.writer) converts: chunks of columns, or
of items with the build that makes their columns, grouped by partition, shape and UTC day, joined
into one chunk per group, made Arrow tables and cut by the UTC day of each row's timestamp."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from relayml.errors import InvalidInput
from relayml.predictions._files import DAY_MS
from relayml.predictions.layout import day_of

__all__ = ["Build", "Chunk", "Source", "group_chunks", "join_column", "merge_chunk", "row_count",
           "split_by_day", "to_arrow"]  # fmt: skip

Build = Callable[[Sequence[Any]], Mapping[str, Any]]
"""Makes the columns of several items queued by ``append_built``, joined in their order."""


class Source(Protocol):
    """Keeps rows outside a ParquetLog's queue until a flush takes them (see add_source)."""

    retired: bool  # drained once more, then forgotten

    def drain(self) -> list[tuple[str, Mapping[str, Any], int]]:
        """(partition, columns, rows) of every row kept since the last drain."""
        ...


# partition, columns (or an item for its build), rows, appended at (ms), build (None: columns)
Chunk = tuple[str, Any, int, int, Build | None]


def to_arrow(name: str, values: Any) -> Any:
    """One column as an Arrow array; numeric lists of lists become list<double>."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        array = values
    elif isinstance(values, np.ndarray) and values.ndim == 2:
        rows, width = values.shape
        flat = values.reshape(-1)
        if flat.dtype.kind in "biuf":
            flat = flat.astype(np.float64)
        offsets = np.arange(rows + 1, dtype=np.int32) * width
        array = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))
    elif isinstance(values, np.ndarray) and values.ndim != 1:
        raise InvalidInput(f"Column {name!r} has {values.ndim} dimensions; give 1 or 2.")
    else:
        array = pa.array(values if isinstance(values, list | np.ndarray) else list(values))
    kind = array.type
    if (
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    ) and (
        pa.types.is_integer(kind.value_type)
        or pa.types.is_floating(kind.value_type)
        or pa.types.is_decimal(kind.value_type)
        or pa.types.is_null(kind.value_type)
    ):
        array = array.cast(pa.list_(pa.float64()))
    if name == "timestamp" and pa.types.is_timestamp(kind):
        array = array.cast(pa.timestamp("ms"), safe=False).cast(pa.int64())
    return array


def group_chunks(chunks: Sequence[Chunk]) -> list[list[Chunk]]:
    """Chunks that can be joined: same partition, same columns (or build), appended the same
    UTC day."""
    groups: dict[tuple[Any, ...], list[Chunk]] = {}
    for chunk in chunks:
        partition, columns, _rows, appended_ms, build = chunk
        shape = tuple(columns) if build is None else build
        groups.setdefault((partition, shape, appended_ms // DAY_MS), []).append(chunk)
    return list(groups.values())


def join_column(parts: Sequence[Any]) -> Any:
    """One column of several chunks: numpy arrays concatenated, anything else as one list."""
    first = parts[0]
    if isinstance(first, np.ndarray):
        # one call for thousands of small parts; parts that differ in kind or dtype change the
        # joined dtype (or fail), and are then joined as a list like any other column
        try:
            joined_array = np.concatenate(parts)
        except (ValueError, TypeError):  # 2-D parts of different widths, or mixed parts
            pass
        else:
            if joined_array.dtype == first.dtype and joined_array.ndim == first.ndim:
                return joined_array
    joined: list[Any] = []
    for part in parts:
        joined.extend(part.tolist() if isinstance(part, np.ndarray) else part)
    return joined


def merge_chunk(group: list[Chunk]) -> Chunk:
    """Several chunks of one group as one chunk of columns."""
    partition, first, _rows, appended_ms, build = group[0]
    rows = sum(c[2] for c in group)
    if build is not None:
        return partition, build([c[1] for c in group]), rows, appended_ms, None
    maps = [c[1] for c in group]
    columns = {name: join_column(list(map(itemgetter(name), maps))) for name in first}
    return partition, columns, rows, appended_ms, None


def split_by_day(table: Any, appended_ms: int) -> list[tuple[str, Any]]:
    """Cut a chunk into (UTC day, rows of that day), by `timestamp` when it is numeric."""
    column = table.column("timestamp") if "timestamp" in table.column_names else None
    if column is None or not (
        pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
    ):
        return [(day_of(appended_ms // DAY_MS), table)]
    millis = column.cast(pa.int64(), safe=False).fill_null(appended_ms).to_numpy()
    days = millis // DAY_MS
    if len(days) == 0 or days.min() == days.max():
        return [(day_of(int(days[0]) if len(days) else appended_ms // DAY_MS), table)]
    return [(day_of(int(d)), table.filter(pa.array(days == d))) for d in np.unique(days)]


def row_count(columns: Mapping[str, Any]) -> int:
    if not columns:
        raise InvalidInput("append() needs at least one column, e.g. {'prediction': [...]}.")
    lengths: dict[str, int] = {}
    for name, values in columns.items():
        if not isinstance(name, str):
            raise InvalidInput(f"Column names must be strings, got {name!r}.")
        try:
            lengths[name] = len(values)
        except TypeError:
            raise InvalidInput(f"Column {name!r} is not a sequence or an array.") from None
    if len(set(lengths.values())) > 1:
        raise InvalidInput(f"All columns must have the same length; got {lengths}.")
    return next(iter(lengths.values()))
