"""Named things with immutable numbered versions (datasets, registered models), and revisions.

A name lives in a project (``names``: project_id, name); its versions are numbered 1, 2, 3...
in ``versions``, whose ``owner`` column points at the name. Policies and decision tables number
their revisions the same way: the next number is the largest so far plus one, taken inside the
writer's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Connection, Table, func, select
from sqlalchemy.exc import IntegrityError

from relayml.domain.clock import now_ms
from relayml.errors import NotFound

__all__ = [
    "Versioned",
    "insert_numbered",
    "insert_revision",
    "latest_number",
    "next_number",
    "retry_on_race",
]

T = TypeVar("T")
R = TypeVar("R")


def latest_number(conn: Connection, column: Any, *where: ColumnElement[bool]) -> int | None:
    """The largest number in column among the rows where says, or None when there are none."""
    value = conn.execute(select(func.max(column)).where(*where)).scalar()
    return None if value is None else int(value)


def next_number(conn: Connection, column: Any, *where: ColumnElement[bool]) -> int:
    """The number the next version or revision takes: the largest so far plus one (1 at first)."""
    return (latest_number(conn, column, *where) or 0) + 1


def insert_numbered(conn: Connection, column: Any, owner: Mapping[str, Any], **values: Any) -> int:
    """Insert a row numbered next among the rows of its owner (column names: values); its number."""
    table = column.table
    number = next_number(conn, column, *(table.c[key] == value for key, value in owner.items()))
    conn.execute(table.insert().values({**owner, column.name: number, **values}))
    return number


def insert_revision(
    conn: Connection,
    revisions: Table,
    owner: Mapping[str, Any],
    document: Any,
    source: str,
    actor: str,
) -> int:
    """Store the next revision of an owner's document (a policy, a decision table); its number."""
    return insert_numbered(
        conn,
        revisions.c.revision,
        owner,
        document=document,
        source=source,
        created_by=actor,
        created_at=now_ms(),
    )


def retry_on_race(write: Callable[[], T], attempts: int = 3) -> T:
    """Run a write again when a concurrent writer took the same number or name first."""
    for attempt in range(attempts):
        try:
            return write()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Versioned(Generic[R]):
    """The tables of one kind of named, versioned thing, and how to speak of it to a user."""

    parse: Callable[[str], R]  # a reference as users write it (customers@3, churn/3)
    names: Table
    versions: Table
    owner: str  # the column of `versions` that holds the id of its row in `names`
    noun: str  # "dataset", "model"
    hint: str  # what to do when a project has none of the name asked for

    def ref(self, ref: str | R) -> R:
        """The reference, parsed if it is still text."""
        return self.parse(ref) if isinstance(ref, str) else ref

    def latest(self, conn: Connection, owner_id: int) -> int | None:
        """The newest version number of a name, or None when it has no version yet."""
        return latest_number(conn, self.versions.c.version, self.versions.c[self.owner] == owner_id)

    def next(self, conn: Connection, owner_id: int) -> int:
        """The number the name's next version takes."""
        return next_number(conn, self.versions.c.version, self.versions.c[self.owner] == owner_id)

    def name_row(self, conn: Connection, pid: int, project: str, name: str) -> Any:
        """The name's row, or NotFound listing the project's names and what to do."""
        where = (self.names.c.project_id == pid, self.names.c.name == name)
        row = conn.execute(select(self.names).where(*where)).first()
        if row is None:
            known = conn.execute(
                select(self.names.c.name)
                .where(self.names.c.project_id == pid)
                .order_by(self.names.c.name)
                .limit(20)
            )
            names = ", ".join(r[0] for r in known) or "none yet"
            raise NotFound(
                f"{self.noun} {name!r} does not exist in project {project!r} "
                f"({self.noun}s: {names}). {self.hint}"
            )
        return row

    def ensure_name(
        self, conn: Connection, pid: int, name: str, *columns: Any, **values: Any
    ) -> tuple[Any | None, int]:
        """(the name's row with those columns, its id), or (None, id) after inserting it new.

        The existing row is locked for the transaction: on PostgreSQL writers of one name take
        turns (SQLite's writers always do), so a content lookup and the next version number
        hold until the commit. Two writers creating one name race: IntegrityError for one.
        """
        where = (self.names.c.project_id == pid, self.names.c.name == name)
        found = conn.execute(
            select(self.names.c.id, *columns).where(*where).with_for_update()
        ).first()
        if found is not None:
            return found, int(found.id)
        row = {"project_id": pid, "name": name, "created_at": now_ms(), **values}
        created = conn.execute(self.names.insert().values(row))
        return None, int(created.inserted_primary_key[0])  # type: ignore[index]

    def version_row(self, conn: Connection, owner_id: int, name: str, number: int | None) -> Any:
        """The row of version `number` (None: the newest), or NotFound naming the range."""
        latest = self.latest(conn, owner_id)
        wanted = latest if number is None else number
        row = conn.execute(
            select(self.versions).where(
                self.versions.c[self.owner] == owner_id, self.versions.c.version == wanted
            )
        ).first()
        if row is None:
            raise NotFound(
                f"{self.noun} {name!r} has no version {wanted} "
                f"(its versions go from 1 to {latest or 0})."
            )
        return row

    def insert_version(self, conn: Connection, owner_id: int, **values: Any) -> int:
        """Insert the name's next version with these values; returns its number."""
        return insert_numbered(conn, self.versions.c.version, {self.owner: owner_id}, **values)
