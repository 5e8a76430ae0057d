"""The audit chain's hash: each entry covers the previous entry's hash and its own fields.

This function must never change: every stored hash, checkpoint and exported head depends on it
(migration 0007 chains the entries written before the chain existed with it too).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["CHAINED_FIELDS", "GENESIS", "entry_hash"]

GENESIS = "0" * 64  # the "previous hash" of the first entry

# The fields an entry's hash covers (its id does not: the order of the chain is the order of ids,
# and an entry moved, dropped or added breaks every hash after it).
CHAINED_FIELDS = ("at", "actor", "action", "entity_kind", "entity_id", "before", "after")


def entry_hash(previous: str, entry: dict[str, Any]) -> str:
    """sha256 hex over the previous hash and the entry's fields as canonical JSON."""
    body = {field: entry.get(field) for field in CHAINED_FIELDS}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{previous}\n{text}".encode()).hexdigest()
