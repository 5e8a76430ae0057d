"""Prebuilt statements run straight on the DBAPI cursor, for the few hottest paths.

SQLAlchemy compiles each statement once per dialect and set of parameter names; every call
after that costs what the driver costs. Use it only inside a Store transaction, with every
parameter given (JSON parameters are named so they can be serialised here).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement

from relayml.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

__all__ = ["FastStatement", "upsert_insert"]


@functools.cache
def _dialect(name: str) -> Dialect:
    """The dialect statements are compiled for; each is imported when first used (PostgreSQL's
    loads its async drivers' modules: an embedded store never needs it)."""
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import psycopg

        return psycopg.dialect()  # type: ignore[no-untyped-call]
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect(paramstyle="named")


def upsert_insert(dialect: str) -> Callable[..., Any]:
    """The INSERT constructor with ON CONFLICT of a dialect (PostgreSQL's, else SQLite's)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


class FastStatement:
    """A statement compiled once per dialect and parameter names, executed on the raw cursor."""

    def __init__(self, statement: ClauseElement, *, json_params: Sequence[str] = ()) -> None:
        self._statement = statement
        self._json = tuple(json_params)
        self._sql: dict[tuple[str, tuple[str, ...]], str] = {}

    def _compiled(self, dialect: str, keys: tuple[str, ...]) -> str:
        sql = self._sql.get((dialect, keys))
        if sql is None:
            compiled = self._statement.compile(dialect=_dialect(dialect), column_keys=list(keys))
            sql = self._sql[(dialect, keys)] = str(compiled)
        return sql

    def _prepare(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self._json:
            return params
        out = dict(params)
        for name in self._json:
            value = out.get(name)
            out[name] = None if value is None else json.dumps(value)
        return out

    def execute(self, conn: Connection, params: dict[str, Any] | list[dict[str, Any]]) -> Any:
        """Run with one parameter set (returns the cursor) or many (executemany)."""
        rows = params if isinstance(params, list) else [params]
        sql = self._compiled(conn.dialect.name, tuple(rows[0]))
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if isinstance(params, list):
                cursor.executemany(sql, [self._prepare(p) for p in rows])
            else:
                cursor.execute(sql, self._prepare(params))
        except (OverflowError, conn.dialect.dbapi.DataError) as exc:  # type: ignore[union-attr]
            # A value the column cannot hold (an integer past 64 bits): the caller's input,
            # refused with a message; the transaction is rolled back by the Store.
            raise InvalidInput(
                f"a value is out of range for the database ({type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0]}); integers must fit 64 bits and text "
                "cannot hold NUL characters."
            ) from exc
        return cursor

    def first(self, conn: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """Run a query and return its first row as a tuple."""
        cursor = self.execute(conn, params)
        row = cursor.fetchone()
        cursor.close()
        return None if row is None else tuple(row)

    def all(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run a query and return every row as a tuple."""
        cursor = self.execute(conn, params)
        rows = [tuple(r) for r in cursor.fetchall()]
        cursor.close()
        return rows
