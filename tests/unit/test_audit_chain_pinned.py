"""The chain's hash and the checkpoint message are pinned: every stored hash, checkpoint and
exported head depends on them, so a change to either must fail here (and must never be made)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relayml.domain.audit_chain import (
    CHAINED_FIELDS,
    GENESIS,
    canonical,
    checkpoint_message,
    entry_hash,
)

ENTRY = {
    "id": 99,  # not covered: the chain's order is the ids' order
    "at": 1700000000000,
    "actor": "dana",
    "action": "model.approve",
    "entity_kind": "model_version",
    "entity_id": "churn/3",
    "before": None,
    "after": {"stage": "production", "note": "ünïcode", "n": 1.5, 2: [1, (2, 3)]},
}


def test_the_canonical_form_is_pinned() -> None:
    assert canonical(ENTRY) == (
        '{"action":"model.approve","actor":"dana","after":{"2":[1,[2,3]],"n":1.5,'
        '"note":"ünïcode","stage":"production"},"at":1700000000000,"before":null,'
        '"entity_id":"churn/3","entity_kind":"model_version"}'
    )


def test_the_hash_is_pinned() -> None:
    assert entry_hash(GENESIS, ENTRY) == PINNED


def test_what_the_database_gives_back_hashes_the_same() -> None:
    read_back = {**ENTRY, "after": {"stage": "production", "note": "ünïcode", "n": 1.5,
                                    "2": [1, [2, 3]]}}  # fmt: skip
    assert entry_hash(GENESIS, read_back) == PINNED
    assert entry_hash(GENESIS, {**ENTRY, "id": 1}) == PINNED
    assert entry_hash(GENESIS, {**ENTRY, "actor": "dan"}) != PINNED
    assert entry_hash("1" * 64, ENTRY) != PINNED


def test_the_checkpoint_message_is_pinned() -> None:
    assert checkpoint_message(7, "ab" * 32, 1700000000000, "cd" * 32) == (
        b"relayml-audit-checkpoint/1\n7\n" + b"ab" * 32 + b"\n1700000000000\n" + b"cd" * 32
    )


PINNED = "b1ed362f14cbdac9a6c36140285e0028b00387ba6f63e9db4884e2a159243b6f"


_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)
)  # NaN and infinities included: JSON's NaN and Infinity round-trip to the same text
_VALUE = st.one_of(
    _SCALAR,
    st.lists(st.text(max_size=3), max_size=3),
    st.lists(_SCALAR, max_size=3),
    st.tuples(st.integers(), st.text(max_size=3)),
    st.dictionaries(st.text(max_size=3), _SCALAR, max_size=2),
)


def _round_trip_canonical(entry: dict[str, Any]) -> str:
    """canonical() as first written: before and after always through one JSON round trip."""
    body = {field: entry.get(field) for field in CHAINED_FIELDS}
    for field in ("before", "after"):
        if body[field] is not None:
            body[field] = json.loads(json.dumps(body[field], default=str))
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.one_of(st.text(max_size=3), st.integers(0, 9)), _VALUE, max_size=4),
    st.dictionaries(st.text(max_size=3), _VALUE, max_size=4),
)
def test_plain_dicts_skip_the_round_trip_and_hash_the_same(
    before: dict[Any, Any], after: dict[str, Any]
) -> None:
    entry = {**ENTRY, "before": before, "after": after}
    try:
        expected = _round_trip_canonical(entry)
    except TypeError:  # int and str keys together cannot be sorted: refused then as now
        with pytest.raises(TypeError):
            canonical(entry)
        return
    assert canonical(entry) == expected
