"""The audit chain: each entry's hash covers the previous entry's hash and its own fields.

``entry_hash`` and ``checkpoint_message`` must never change: every stored hash, checkpoint and
exported head depends on them (migration 0007 chains the entries written before the chain
existed with them too). The models here are what verification and checkpoints return.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CHAINED_FIELDS",
    "CHECKPOINT_FORMAT",
    "GENESIS",
    "AuditCheckpoint",
    "AuditVerification",
    "Problem",
    "canonical",
    "checkpoint_message",
    "entry_hash",
]

GENESIS = "0" * 64  # the "previous hash" of the first entry
CHECKPOINT_FORMAT = "relayml-audit-checkpoint/1"

# The fields an entry's hash covers (its id does not: the order of the chain is the order of ids,
# and an entry moved, dropped or added breaks every hash after it).
CHAINED_FIELDS = ("at", "actor", "action", "entity_kind", "entity_id", "before", "after")


def canonical(entry: dict[str, Any]) -> str:
    """The chained fields of an entry as canonical JSON (sorted keys, no spaces, UTF-8).

    ``before`` and ``after`` go through one JSON round trip first, so that what was written and
    what the database gives back (int keys become strings, tuples lists) hash the same.
    """
    body = {field: entry.get(field) for field in CHAINED_FIELDS}
    for field in ("before", "after"):
        value = body[field]
        if value is not None and not _plain(value):  # a plain dict comes back unchanged
            body[field] = json.loads(json.dumps(value, default=str))
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> bool:
    """A dict of str keys to JSON scalars or lists of str: what a JSON round trip keeps as is."""
    if type(value) is not dict:
        return False
    for key, item in value.items():
        if type(key) is not str:
            return False
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is not list or not all(type(x) is str for x in item):
            return False
    return True


def entry_hash(previous: str, entry: dict[str, Any]) -> str:
    """sha256 hex over the previous hash and the entry's fields as canonical JSON."""
    return hashlib.sha256(f"{previous}\n{canonical(entry)}".encode()).hexdigest()


def checkpoint_message(entry_id: int, head_hash: str, at: int, key_id: str) -> bytes:
    """The bytes a checkpoint's Ed25519 signature covers: the head, the time and the key id."""
    return f"{CHECKPOINT_FORMAT}\n{entry_id}\n{head_hash}\n{at}\n{key_id}".encode()


class AuditCheckpoint(BaseModel):
    """A signed snapshot of the chain's head: entry id, hash, time, key id and signature."""

    model_config = ConfigDict(frozen=True)

    format: str = CHECKPOINT_FORMAT
    id: int | None = Field(default=None, description="Its row in audit_checkpoints, if stored.")
    entry_id: int = Field(description="The newest chained entry at that time (0: none yet).")
    hash: str = Field(description="That entry's chain hash (sha256 hex).")
    at: int = Field(description="When it was signed, epoch ms.")
    key_id: str = Field(description="sha256 hex of the raw Ed25519 public key.")
    signature: str = Field(description="Base64 Ed25519 signature of checkpoint_message(...).")
    public_key: str = Field(default="", description="The signing key, PEM (SubjectPublicKeyInfo).")
    created_by: str = ""
    signed_at: datetime | None = Field(default=None, description="`at` as a UTC time, to read.")


Problem = Literal[
    "changed", "missing", "inserted", "replaced", "reordered", "truncated", "appended", "head",
    "checkpoint",
]  # fmt: skip


class AuditVerification(BaseModel):
    """What a walk over the chain found: OK with the head, or the first broken entry."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    entries: int = Field(description="Entries walked.")
    head_entry_id: int = Field(description="The head's entry id (the newest chained entry).")
    head_hash: str
    entry_id: int | None = Field(default=None, description="The first entry found broken.")
    problem: Problem | None = None
    message: str = Field(description="What was found, in a sentence.")
    checkpoint_entry_id: int | None = Field(
        default=None, description="The checked checkpoint's entry, when one was given."
    )
    notes: list[str] = Field(default_factory=list, description="Remarks that are not breaks.")
