"""The canonical form of a table and its content hash (pyarrow + numpy, no row loops).

Canonical form: the columns in their order, with large string/binary types made regular and
dictionary indices made int32, one dictionary per column. The content hash covers the schema
(name, type, nullable of each column), the row count, and per column the validity bits and the
values (values under nulls do not count), in fixed slices: the same data gives the same hash
however it is chunked or wherever it came from.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from relayml.errors import InvalidInput

__all__ = ["canonical_table", "column_kind", "content_hash", "map_columns", "schema_of"]

_SLICE = 1 << 20  # rows per hashed slice: part of the hash format, never change it
_HASH_FORMAT = b"relayml-table-v1\n"


# -- canonical form --------------------------------------------------------------------------


def _canonical_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
        return pa.binary()
    if pa.types.is_dictionary(kind):
        return pa.dictionary(pa.int32(), _canonical_type(kind.value_type), kind.ordered)
    return kind


def canonical_table(table: pa.Table) -> pa.Table:
    """The table in canonical form (see the module docstring); column order is kept."""
    names = table.column_names
    seen: set[str] = set()
    for name in names:
        if not name:
            raise InvalidInput("a dataset column has an empty name; name every column.")
        if name in seen:
            raise InvalidInput(f"column {name!r} appears twice; column names must be unique.")
        seen.add(name)
    columns = []
    fields = []
    for field, column in zip(table.schema, table.columns, strict=True):
        target = _canonical_type(field.type)
        if target != field.type:
            try:
                column = column.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                target = field.type  # over 2 GiB of text in one chunk: keep the large type
        if pa.types.is_dictionary(target) and column.num_chunks > 1:
            column = column.unify_dictionaries()
        columns.append(column)
        fields.append(pa.field(field.name, target, field.nullable))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def schema_of(table: pa.Table) -> list[dict[str, Any]]:
    """[{name, type, nullable}] with Arrow type strings, in column order."""
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in table.schema]


# -- content hash ----------------------------------------------------------------------------


_BLOCK = 1 << 16  # rows hashed at a time (a multiple of 8); the bytes hashed do not depend on it
_FIXED = {  # Arrow types whose values are hashed straight from their buffer, as numpy sees them
    pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
    pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32,
    pa.uint64(): np.uint64, pa.float32(): np.float32, pa.float64(): np.float64,
}  # fmt: skip


def _blocks(arr: pa.Array) -> range:
    return range(0, len(arr), _BLOCK)


def _bits(buffer: pa.Buffer, first: int, count: int) -> np.ndarray:
    """count bits of an Arrow bitmap (least significant bit first) from bit first, as bools."""
    raw = np.frombuffer(buffer, dtype=np.uint8)[first // 8 : (first + count + 7) // 8]
    skip = first % 8
    return np.unpackbits(raw, bitorder="little")[skip : skip + count].view(np.bool_)


def _valid(arr: pa.Array, start: int, count: int) -> np.ndarray | None:
    """Which of count rows from start are not null; None when the array has no nulls."""
    if not arr.null_count:
        return None
    bitmap = arr.buffers()[0]
    if bitmap is None:  # the null type, and types whose nulls live elsewhere (unions...)
        valid: np.ndarray = pc.is_valid(arr.slice(start, count)).to_numpy(zero_copy_only=False)
        return valid
    return _bits(bitmap, arr.offset + start, count)


def _hash_validity(digest: Any, arr: pa.Array) -> None:
    """'N' when there is no null, else 'V' and the validity as packbits (big-endian) bytes."""
    if not arr.null_count:
        digest.update(b"N")
        return
    digest.update(b"V")
    for start in _blocks(arr):  # blocks of a multiple of 8 rows pack as the whole would
        valid = _valid(arr, start, min(_BLOCK, len(arr) - start))
        assert valid is not None  # the array has nulls
        digest.update(np.packbits(valid).tobytes())


def _hash_fixed(digest: Any, arr: pa.Array, dtype: Any) -> None:
    """Numbers (and times as integers) read in place: 0 under nulls, one NaN bit pattern.

    The same bytes as filling nulls with 0 and hashing the column's numpy copy, without the copy:
    only a block that holds a null or a NaN is copied (a block at a time).
    """
    values = np.frombuffer(arr.buffers()[1], dtype=dtype)[arr.offset : arr.offset + len(arr)]
    floating = values.dtype.kind == "f"
    for start in _blocks(arr):
        block = values[start : start + _BLOCK]
        valid = _valid(arr, start, len(block))
        if valid is not None and not valid.all():
            block = np.where(valid, block, block.dtype.type(0))
        if floating:
            nan = np.isnan(block)
            if nan.any():
                block = np.where(nan, np.nan, block)
        digest.update(block)


def _hash_booleans(digest: Any, arr: pa.Array) -> None:
    """One byte (0 or 1) per row, False under nulls, unpacked a block at a time."""
    for start in _blocks(arr):
        count = min(_BLOCK, len(arr) - start)
        values = _bits(arr.buffers()[1], arr.offset + start, count)
        valid = _valid(arr, start, count)
        if valid is not None:
            values = values & valid
        digest.update(values)


def _hash_values(digest: Any, arr: pa.Array) -> None:
    kind = arr.type
    _hash_validity(digest, arr)
    if pa.types.is_dictionary(kind):
        _hash_values(digest, arr.indices)
        return
    if pa.types.is_boolean(kind):
        _hash_booleans(digest, arr)
        return
    if column_kind(kind) in ("string", "binary") and not pa.types.is_string_view(kind):
        _hash_binary(digest, arr)
        return
    if kind in _FIXED:
        _hash_fixed(digest, arr, _FIXED[kind])
        return
    if pa.types.is_temporal(kind) and kind.bit_width in (32, 64):
        _hash_fixed(digest, arr, np.int64 if kind.bit_width == 64 else np.int32)
        return
    if pa.types.is_floating(kind):  # half floats
        values = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False)
        nan = np.isnan(values)
        if nan.any():  # one NaN bit pattern
            values = np.where(nan, np.nan, values)
        digest.update(values.tobytes())
        return
    if pa.types.is_null(kind):
        return
    # decimals, nested and other types: the IPC form of the slice (rebuilt from Python values)
    rebuilt = pa.array(arr.to_pylist(), type=kind)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, pa.schema([pa.field("v", kind)])) as writer:
        writer.write_batch(pa.record_batch([rebuilt], names=["v"]))
    digest.update(sink.getvalue().to_pybytes())


def _hash_binary(digest: Any, arr: pa.Array) -> None:
    """The lengths (int64, 0 under nulls), then the bytes of the values, read in place."""
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    _validity, offsets_buffer, data = arr.buffers()
    if offsets_buffer is None:  # no rows
        return
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64 if large else np.int32)
    offsets = offsets[arr.offset : arr.offset + len(arr) + 1]
    hidden = False  # bytes under nulls: the values hashed are then not one run of the buffer
    for start in _blocks(arr) if arr.null_count else ():
        lengths = np.diff(offsets[start : start + _BLOCK + 1])
        valid = _valid(arr, start, len(lengths))
        assert valid is not None  # the array has nulls
        hidden = hidden or bool(lengths[~valid].any())
    for start in _blocks(arr):
        lengths = np.diff(offsets[start : start + _BLOCK + 1]).astype(np.int64)
        valid = _valid(arr, start, len(lengths))
        if valid is not None:
            lengths[~valid] = 0
        digest.update(lengths)
    if data is None or len(arr) == 0:
        return
    if hidden:
        filled = pc.fill_null(arr, b"" if pa.types.is_binary(arr.type) else "")
        values = filled.buffers()
        bounds = np.frombuffer(values[1], dtype=offsets.dtype)[filled.offset :]
        data, offsets = values[2], bounds[: len(filled) + 1]
        if data is None:
            return
    digest.update(memoryview(data)[int(offsets[0]) : int(offsets[-1])])


def _column_digest(column: pa.ChunkedArray) -> bytes:
    digest = hashlib.sha256()
    if pa.types.is_dictionary(column.type) and column.num_chunks:
        _hash_values(digest, column.chunk(0).dictionary)  # one dictionary (canonical form)
    for start in range(0, len(column), _SLICE):
        part = column.slice(start, _SLICE)
        chunk = part.chunk(0) if part.num_chunks == 1 else part.combine_chunks()
        _hash_values(digest, chunk)
    return digest.digest()


def content_hash(table: pa.Table) -> str:
    """sha256 of a canonical table's content (schema, rows, values); chunking does not count."""
    header = json.dumps({"rows": table.num_rows, "schema": schema_of(table)}, sort_keys=True)
    digest = hashlib.sha256(_HASH_FORMAT + header.encode())
    for column_digest in map_columns(_column_digest, table.columns):
        digest.update(column_digest)
    return digest.hexdigest()


def map_columns(func: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """func over items, on up to 4 threads (pyarrow and numpy release the GIL)."""
    workers = min(4, os.cpu_count() or 1, len(items))
    if workers <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="relay-profile") as pool:
        return list(pool.map(func, items))


def column_kind(kind: pa.DataType) -> str:
    """numeric, string, boolean, temporal, binary, null or other."""
    if pa.types.is_dictionary(kind):
        return column_kind(kind.value_type)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return "string"
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_time(kind):
        return "temporal"
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return "binary"
    if pa.types.is_null(kind):
        return "null"
    return "other"
