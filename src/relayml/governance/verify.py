"""Walk the audit chain in id order, recomputing each hash, and name the first broken entry.

The walk reads one consistent snapshot in pages (bounded memory). When an entry's stored hash
does not match its content and the hash before it, the entries around it tell what most likely
happened: the next entry still chains from its stored hash (its content was changed, or an entry
before it was deleted), the next entry chains from the one before it (it was inserted), or
neither (it was replaced, or entries were reordered). A signed checkpoint's (entry, hash) must
still be in the chain: that catches a rewrite of the whole tail with recomputed hashes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from relayml.domain.audit_chain import GENESIS, AuditVerification, entry_hash
from relayml.store import Store
from relayml.store.schema import audit_log
from relayml.store.schema_identity import audit_head

__all__ = ["Signed", "verify_chain"]

PAGE = 2000  # entries per read
LOOK_BACK = 8  # earlier hashes kept to recognise entries inserted with forged but valid hashes


@dataclass(frozen=True)
class Signed:
    """A signed (entry id, hash) the chain must still hold, and how to name it in a message."""

    entry_id: int
    hash: str
    name: str  # "the checkpoint file", "stored checkpoint 12 (2024-05-01 10:00)"


@dataclass(frozen=True)
class _Row:
    id: int
    hash: str | None
    fields: dict[str, Any]


@contextmanager
def _snapshot(store: Store) -> Iterator[Connection]:
    """A read transaction that sees one state of the database for every page."""
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _rows(conn: Connection) -> Iterator[_Row]:
    last = None
    while True:
        found = select(audit_log).order_by(audit_log.c.id).limit(PAGE)
        if last is not None:
            found = found.where(audit_log.c.id > last)
        page = conn.execute(found).all()
        for row in page:
            yield _Row(row.id, row.hash, dict(row._mapping))
        if len(page) < PAGE:
            return
        last = page[-1].id


class _Walk:
    """The state of one walk: the entries seen so far and the head and checkpoint to meet."""

    def __init__(
        self, head: tuple[int, str] | None, signed: list[Signed], file_entry: int | None
    ) -> None:
        self.head = head
        self.signed = sorted(signed, key=lambda point: point.entry_id)
        self.next_signed = 0
        self.file_entry = file_entry
        self.count = 0
        self.recent: deque[tuple[int, str]] = deque([(0, GENESIS)], maxlen=LOOK_BACK)
        self.first_after_head: int | None = None

    @property
    def last(self) -> tuple[int, str]:
        return self.recent[-1]

    def result(self, problem: str | None, entry_id: int | None, message: str) -> AuditVerification:
        head_id, head_hash = self.head or (0, "")
        return AuditVerification(
            ok=problem is None,
            entries=self.count,
            head_entry_id=head_id,
            head_hash=head_hash,
            entry_id=entry_id,
            problem=problem,
            message=message,
            checkpoint_entry_id=self.file_entry,
        )

    def diagnose(self, cur: _Row, nxt: _Row | None) -> AuditVerification:
        """Why cur does not chain from the entry before it."""
        prev_id, prev_hash = self.last
        if cur.hash is None:
            return self.result(
                "inserted",
                cur.id,
                f"entry {cur.id} has no hash: it was inserted outside relayml (straight into the "
                "database), after the chain existed.",
            )
        for earlier_id, earlier_hash in list(self.recent)[:-1]:
            if entry_hash(earlier_hash, cur.fields) == cur.hash:
                first = self._after(earlier_id)
                added = (
                    f"entry {first} was" if first == prev_id else f"entries {first}-{prev_id} were"
                )
                return self.result(
                    "inserted",
                    first,
                    f"entry {first} was inserted: entry {cur.id} chains from entry "
                    f"{earlier_id or 'the start'}, so {added} added afterwards.",
                )
        if nxt is not None and nxt.hash is not None:
            if entry_hash(prev_hash, nxt.fields) == nxt.hash:
                if entry_hash(nxt.hash, cur.fields) == cur.hash:
                    return self.result(
                        "reordered",
                        cur.id,
                        f"entries {cur.id} and {nxt.id} were swapped: each chains from the other.",
                    )
                return self.result(
                    "inserted",
                    cur.id,
                    f"entry {cur.id} was inserted: entry {nxt.id} chains straight from the entry "
                    f"before it ({prev_id or 'the start'}).",
                )
            if entry_hash(cur.hash, nxt.fields) == nxt.hash:
                return self._changed_or_missing(cur, prev_id)
            return self.result(
                "replaced",
                cur.id,
                f"entry {cur.id} was replaced or moved: it does not chain from the entry before "
                f"it and entry {nxt.id} does not chain from it (entries replaced or reordered).",
            )
        if self.head is not None and self.head == (cur.id, cur.hash):
            return self._changed_or_missing(cur, prev_id)
        if nxt is None and self.head is not None and self.head[0] == prev_id:
            return self.result(
                "inserted",
                cur.id,
                f"entry {cur.id} was added outside relayml after the head (entry {prev_id}).",
            )
        return self.result(
            "replaced",
            cur.id,
            f"entry {cur.id} was replaced: it does not chain from the entry before it.",
        )

    def _after(self, entry_id: int) -> int:
        ids = [i for i, _ in self.recent]
        return ids[ids.index(entry_id) + 1]

    def _changed_or_missing(self, cur: _Row, prev_id: int) -> AuditVerification:
        if cur.id - prev_id > 1:
            return self.result(
                "missing",
                cur.id,
                f"the entry before {cur.id} is missing or was replaced: ids jump from "
                f"{prev_id or 'the start'} to {cur.id} and entry {cur.id} chains from a hash "
                "that is no longer in the log (an entry was deleted).",
            )
        return self.result(
            "changed",
            cur.id,
            f"entry {cur.id} was changed after it was written (its hash does not match its "
            "content).",
        )

    def check_signed(self, cur_id: int | None, cur_hash: str | None) -> AuditVerification | None:
        """A break when the walk meets a signed point with another hash, or passes it."""
        prev_id = self.last[0]
        while self.next_signed < len(self.signed):
            point = self.signed[self.next_signed]
            if point.entry_id == 0 and prev_id == 0:
                if point.hash != GENESIS:
                    return self.result("checkpoint", 0, f"{point.name} of the empty log is wrong.")
            elif cur_id == point.entry_id:
                if cur_hash != point.hash:
                    return self.result(
                        "checkpoint",
                        point.entry_id,
                        f"the log was rewritten: entry {point.entry_id} chains to {cur_hash}, but "
                        f"{point.name} signed {point.hash}. An entry at or before "
                        f"{point.entry_id} was changed, deleted or inserted and every hash "
                        "after it recomputed.",
                    )
            elif point.entry_id > prev_id and (cur_id is None or cur_id > point.entry_id):
                end = f"the log ends at {prev_id}" if cur_id is None else f"ids jump to {cur_id}"
                return self.result(
                    "checkpoint",
                    point.entry_id,
                    f"entry {point.entry_id}, which {point.name} covers, is gone ({end}): "
                    "entries were deleted and the chain recomputed.",
                )
            else:
                return None  # the point is further on
            self.next_signed += 1
        return None


def verify_chain(
    store: Store, signed: list[Signed] | None = None, file_entry: int | None = None
) -> AuditVerification:
    """Walk the whole chain; ok with the head, or the first broken entry and what happened.

    Every signed point (an exported checkpoint, stored ones) must still be in the chain;
    file_entry is the exported checkpoint's entry id, reported back."""
    with _snapshot(store) as conn:
        found = conn.execute(select(audit_head.c.entry_id, audit_head.c.hash)).first()
        walk = _Walk((int(found[0]), str(found[1])) if found else None, signed or [], file_entry)
        rows = _rows(conn)
        cur = next(rows, None)
        while cur is not None:
            nxt = next(rows, None)
            if cur.hash is None or entry_hash(walk.last[1], cur.fields) != cur.hash:
                return walk.diagnose(cur, nxt)
            broken = walk.check_signed(cur.id, cur.hash)
            if broken is not None:
                return broken
            walk.recent.append((cur.id, cur.hash))
            if walk.head is not None and cur.id > walk.head[0] and walk.first_after_head is None:
                walk.first_after_head = cur.id
            walk.count += 1
            cur = nxt
        broken = walk.check_signed(None, None)
        if broken is not None:
            return broken
        return _end(walk)


def _end(walk: _Walk) -> AuditVerification:
    """The walk reached the last entry unbroken: it must be the head's."""
    last_id, last_hash = walk.last
    if walk.head is None:
        return walk.result(
            "head",
            None,
            "the audit chain's head (table audit_head) is missing: it was deleted. Restore it "
            "from a backup; the entries themselves chain.",
        )
    head_id, head_hash = walk.head
    if head_id > last_id:
        return walk.result(
            "truncated",
            head_id,
            f"the head says {head_id} but the log ends at {last_id or 'nothing'}: entries were "
            "deleted at the end.",
        )
    if head_id < last_id:
        return walk.result(
            "appended",
            walk.first_after_head,
            f"entries after the head (entry {head_id}) were added outside relayml, up to "
            f"entry {last_id}.",
        )
    if head_hash != last_hash:
        return walk.result(
            "head",
            head_id,
            f"the head's hash does not match entry {head_id}'s: the head row was edited.",
        )
    checked = ""
    if walk.signed:
        checked = f"; {len(walk.signed)} signed checkpoint(s) are in the chain"
    return walk.result(
        None,
        None,
        f"the audit chain is intact: {walk.count} entries, head entry {head_id}, hash "
        f"{head_hash}{checked}.",
    )
