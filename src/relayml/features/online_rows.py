"""The online table's rows built column by column and written in bulk.

A materialisation's rows (one per entity: key, features as JSON, event time) are built from the
latest-values frame a column at a time: numbers and text become Python values in one call per
column, and only other types (times, lists, objects) go value by value through :func:`plain`,
which refuses what the table cannot hold. Each row's features are serialised with orjson
(missing values, NaN and infinite floats as null). Rows are written in chunks of ``BATCH`` on
the Store transaction's own DBAPI connection: PostgreSQL with COPY, SQLite with executemany; a
chunk is built just before it is written, so a bad value in a late chunk fails after earlier
chunks were written and the transaction, rolled back by the Store, leaves the table as it was.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from relayml.errors import InvalidInput
from relayml.features.pit import time_ns

__all__ = ["BATCH", "COLUMNS", "entity_key", "entity_keys", "insert_rows", "online_rows", "plain"]

BATCH = 5000  # rows built and written at a time; all chunks share one transaction
COLUMNS = (
    "def_id", "environment", "entity_key", "version", "features", "event_at", "materialized_at"
)  # fmt: skip
_SEP = "|"


def entity_key(values: Sequence[Any]) -> str:
    """The online table's key of an entity: its join keys' values, "|"-joined (1.0 as 1)."""
    parts = [plain(v) for v in values]
    return _SEP.join(str(int(v) if isinstance(v, float) and v.is_integer() else v) for v in parts)


def plain(value: Any) -> Any:
    """A JSON-ready value: None for missing, Python scalars, ISO text for times."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    raise InvalidInput(
        f"value {value!r} ({type(value).__name__}) cannot be stored online: a feature value must "
        "be a number, text, boolean or time; fix the source column."
    )


def _kind(column: pd.Series) -> str:
    """'f' (floats), 'i' (integers or booleans without missing values), 's' (text) or '' (any
    other: value by value)."""
    dtype = column.dtype
    if isinstance(dtype, pd.ArrowDtype):
        kind = dtype.kind  # numpy's kind of the Arrow type
        if kind == "f":
            return "f"
        if kind in "iub":
            return "i" if not column.hasnans else ""
        text = pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(
            dtype.pyarrow_dtype
        )
        return "s" if text and not column.hasnans else ""
    if isinstance(dtype, pd.StringDtype):
        return "s" if not column.hasnans else ""
    if isinstance(dtype, np.dtype):
        return "f" if dtype.kind == "f" else "i" if dtype.kind in "iub" else ""
    return ""


def _values(column: pd.Series) -> list[Any]:
    """A column's values as JSON-ready Python values (None for missing)."""
    kind = _kind(column)
    if kind == "f":
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(values)
        if not missing.any():
            return values.tolist()  # type: ignore[no-any-return]
        out = values.astype(object)
        out[missing] = None
        return out.tolist()  # type: ignore[no-any-return]
    if kind == "i":
        return column.to_numpy().tolist()  # type: ignore[no-any-return]
    if kind == "s":
        text: list[Any] = column.tolist()
        return text
    return [plain(v) for v in column.tolist()]


def entity_keys(frame: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """Each row's entity key (what entity_key gives for its join keys' values)."""
    columns = []
    for key in keys:
        column = frame[key]
        kind = _kind(column)
        if kind == "i":
            columns.append([str(v) for v in column.to_numpy().tolist()])
        elif kind == "s":
            columns.append(column.tolist())
        else:
            columns.append([entity_key([v]) for v in column.tolist()])
    if len(columns) == 1:
        return columns[0]
    return [_SEP.join(parts) for parts in zip(*columns, strict=True)]


def online_rows(
    latest: pd.DataFrame,
    keys: Sequence[str],
    event_time: str,
    features: Sequence[str],
    fixed: tuple[int, str, int, int],
) -> Iterator[list[tuple[Any, ...]]]:
    """The table's rows of each entity of ``latest`` (join keys, event time, features), chunk by
    chunk; fixed: (definition id, environment, version, materialised at ms)."""
    def_id, environment, version, stamp = fixed
    names = list(features)
    for start in range(0, len(latest), BATCH):
        chunk = latest.iloc[start : start + BATCH]
        event_ms = (time_ns(chunk[event_time], event_time) // 1_000_000).tolist()
        columns = [_values(chunk[name]) for name in names]
        try:
            texts = [orjson.dumps(dict(zip(names, row, strict=True))).decode() for row in
                     zip(*columns, strict=True)] if names else ["{}"] * len(chunk)  # fmt: skip
        except orjson.JSONEncodeError as exc:
            raise InvalidInput(
                f"a feature value cannot be stored online ({exc}); integers must fit 64 bits."
            ) from None
        yield [
            (def_id, environment, key, version, text, event, stamp)
            for key, text, event in zip(entity_keys(chunk, keys), texts, event_ms, strict=True)
        ]


def insert_rows(conn: Connection, chunks: Iterator[list[tuple[Any, ...]]]) -> int:
    """Write the rows (COPY on PostgreSQL, executemany on SQLite) in the connection's transaction;
    the number written."""
    driver: Any = conn.connection.driver_connection
    names = ", ".join(COLUMNS)
    written = 0
    if conn.dialect.name == "postgresql":
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY feature_online ({names}) FROM STDIN") as copy,
        ):
            for rows in chunks:
                for row in rows:
                    copy.write_row(row)
                written += len(rows)
        return written
    sql = f"INSERT INTO feature_online ({names}) VALUES ({', '.join('?' * len(COLUMNS))})"
    cursor = driver.cursor()
    try:
        for rows in chunks:
            cursor.executemany(sql, rows)
            written += len(rows)
    finally:
        cursor.close()
    return written
