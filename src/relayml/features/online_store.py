"""The online store: the latest value per entity of a feature set, materialised into the metadata
store's ``feature_online`` table per environment, and looked up by entity key.

Materialising is incremental (only source rows at or after the newest event time already there
are read; a new version rewrites everything) and runs in ONE transaction with its audit entry: a
materialisation that fails midway leaves the previous rows as they were. TTL is applied when
values are looked up, so a value past its TTL comes back missing with a reason, never stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

import pandas as pd
from sqlalchemy import Connection, bindparam, delete, func, select

from relayml.domain.clock import now_ms
from relayml.domain.features import FeatureSet
from relayml.domain.features_online import Materialization, OnlineRow, OnlineValues
from relayml.domain.ports import Backend
from relayml.domain.roles import ENVIRONMENTS
from relayml.errors import InvalidInput, NotFound
from relayml.features.online_rows import (
    BATCH,
    entity_key,
    entity_keys,
    insert_rows,
    online_rows,
)
from relayml.features.pit import time_ns
from relayml.features.registry import def_row
from relayml.features.training import join_feature_set, load_source
from relayml.governance import audit
from relayml.projects import project_id
from relayml.store import Store
from relayml.store.schema_features import feature_defs, feature_online, feature_stages

__all__ = [
    "BATCH",
    "OnlineQuery",
    "PreparedSet",
    "entity_key",
    "fetch",
    "lookup",
    "materialize",
    "prepare",
]

MAX_KEYS = 1000


def _spec(backend: Backend, project: str, name: str, environment: str) -> tuple[int, FeatureSet]:
    if environment not in ENVIRONMENTS:
        raise InvalidInput(
            f"unknown environment {environment!r}; environments are {', '.join(ENVIRONMENTS)}."
        )
    found = backend.get_feature_definition(project, "feature_set", name, environment=environment)
    declared = found.declared()
    if not isinstance(declared, FeatureSet):
        raise InvalidInput(f"{name!r} is not a feature set with a source; only those go online.")
    return found.version, declared


def materialize(
    backend: Backend, store: Store, actor: str, project: str, name: str, environment: str
) -> Materialization:
    """Write the latest value per entity of the version in `environment` (one transaction)."""
    version, fs = _spec(backend, project, name, environment)
    entity = backend.get_feature_definition(project, "entity", fs.entity)
    keys = list(entity.spec["join_keys"])
    source, _ = load_source(backend, project, fs)
    now = datetime.now(UTC)
    with store.write() as conn:
        row = def_row(conn, project_id(conn, project), project, "feature_set", name)
        # one materialisation of a feature set at a time (PostgreSQL; SQLite has one writer)
        conn.execute(select(feature_defs.c.id).where(feature_defs.c.id == row.id).with_for_update())
        here = (feature_online.c.def_id == row.id) & (feature_online.c.environment == environment)
        since_ms = conn.execute(
            select(func.max(feature_online.c.event_at)).where(
                here, feature_online.c.version == version
            )
        ).scalar()
        full = since_ms is None
        if since_ms is not None:  # only rows at or after the newest stored event time
            events = time_ns(source[fs.event_time], f"{fs.name}.{fs.event_time}")
            source = source[events >= int(since_ms) * 1_000_000]
        else:
            conn.execute(delete(feature_online).where(here))  # a new version: rewrite all
        latest = _latest(source, fs, keys, now)
        if not full and len(latest):  # the entities written again lose their previous rows
            again = entity_keys(latest, keys)
            for start in range(0, len(again), MAX_KEYS):
                chunk = again[start : start + MAX_KEYS]
                conn.execute(
                    delete(feature_online).where(here, feature_online.c.entity_key.in_(chunk))
                )
        names = [f.name for f in fs.features]
        fixed = (row.id, environment, version, now_ms())
        written = insert_rows(conn, online_rows(latest, keys, fs.event_time, names, fixed))
        entities = conn.execute(select(func.count()).select_from(feature_online).where(here))
        newest = conn.execute(select(func.max(feature_online.c.event_at)).where(here)).scalar()
        result = Materialization(
            project=project,
            feature_set=name,
            version=version,
            environment=environment,
            written=written,
            entities=int(entities.scalar() or 0),
            full=full,
            since=None if since_ms is None else audit.to_datetime(int(since_ms)),
            latest_event_time=None if newest is None else audit.to_datetime(int(newest)),
        )
        audit.record(
            conn,
            actor=actor,
            action="features.materialize",
            entity_kind="feature_set",
            entity_id=f"{project}/{name}@{version}",
            after={"environment": environment, "written": written, "full": full,
                   "entities": result.entities},
        )  # fmt: skip
        return result


def _latest(source: pd.DataFrame, fs: FeatureSet, keys: list[str], now: datetime) -> pd.DataFrame:
    """Each entity's latest row at or before now (no TTL: it is applied at lookup)."""
    entities = source[keys].dropna().drop_duplicates().reset_index(drop=True)
    if entities.empty:
        return pd.DataFrame(columns=[*keys, fs.event_time, *(f.name for f in fs.features)])
    entities["__as_of"] = pd.Timestamp(now)
    untimed = fs.model_copy(update={"ttl": None})
    values = join_feature_set(
        entities, "__as_of", untimed, keys, source,
        [fs.event_time, *(f.name for f in fs.features)],
    )  # fmt: skip
    out = pd.concat([entities.drop(columns="__as_of"), values], axis=1)
    return out[out[fs.event_time].notna()]


def lookup(
    backend: Backend,
    store: Store,
    project: str,
    name: str,
    keys: Sequence[str],
    environment: str = "production",
    *,
    at: datetime | None = None,
) -> OnlineValues:
    """The online values of entities (keys as entity_key gives them), TTL applied at `at`.

    The feature set's definition is resolved once per store and then only checked: one small
    SELECT of the version the environment holds, in the same read as the values; a promotion
    or a new version there resolves it again (so a lookup never answers for a version the
    environment no longer holds)."""
    if not keys:
        raise InvalidInput("no keys given: name the entities, e.g. keys=1&keys=2.")
    if len(keys) > MAX_KEYS:
        raise InvalidInput(f"at most {MAX_KEYS} keys per lookup; split them.")
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    wanted = [str(k) for k in keys]
    resolved = _RESOLVED.setdefault(store, {})
    cached = resolved.get((project, name, environment))
    rows: list[OnlineRow] | None = None
    if cached is not None:
        with store.read() as conn:
            held = conn.execute(
                _HELD, {"def_id": cached.sets[name].def_id, "environment": environment}
            ).scalar()
            if held == cached.sets[name].version:
                rows = _fetch(conn, cached, {name: wanted}, moment)[name]
    if cached is None or rows is None:
        cached = prepare(backend, store, project, [name], environment)
        resolved[(project, name, environment)] = cached
        rows = fetch(store, cached, {name: wanted}, moment)[name]
    prepared = cached.sets[name]
    if all(r.event_time is None for r in rows) and not _any_rows(
        store, prepared.def_id, environment
    ):
        raise NotFound(
            f"feature set {name!r} has no online values in {environment}; run "
            f"`relay features materialize {name} --env {environment}` first."
        )
    return OnlineValues(
        project=project,
        feature_set=name,
        version=prepared.version,
        environment=environment,
        looked_up_at=moment,
        rows=rows,
    )


@dataclass(frozen=True)
class PreparedSet:
    """A feature set resolved for lookups: its row id, version in the environment, features."""

    name: str
    def_id: int
    version: int
    names: list[str]
    ttl: timedelta | None


@dataclass(frozen=True)
class OnlineQuery:
    """Feature sets resolved once (definitions read at prepare time, never per lookup)."""

    project: str
    environment: str
    sets: dict[str, PreparedSet]


_ROWS = (
    select(
        feature_online.c.def_id,
        feature_online.c.entity_key,
        feature_online.c.version,
        feature_online.c.features,
        feature_online.c.event_at,
    )
    .where(feature_online.c.def_id.in_(bindparam("def_ids", expanding=True)))
    .where(feature_online.c.environment == bindparam("environment"))
    .where(feature_online.c.entity_key.in_(bindparam("keys", expanding=True)))
)
# the version an environment holds now, to check a resolved feature set against
_HELD = select(feature_stages.c.version).where(
    feature_stages.c.def_id == bindparam("def_id"),
    feature_stages.c.environment == bindparam("environment"),
    feature_stages.c.ended_at.is_(None),
)
# per store: (project, feature set, environment) -> the set resolved for lookups
_RESOLVED: WeakKeyDictionary[Store, dict[tuple[str, str, str], OnlineQuery]] = WeakKeyDictionary()


def prepare(
    backend: Backend, store: Store, project: str, names: Sequence[str], environment: str
) -> OnlineQuery:
    """Resolve feature sets' versions in `environment` for fetch(); NotFound, InvalidInput."""
    sets: dict[str, PreparedSet] = {}
    for name in dict.fromkeys(names):
        version, fs = _spec(backend, project, name, environment)
        with store.read() as conn:
            row = def_row(conn, project_id(conn, project), project, "feature_set", name)
        names_ = [f.name for f in fs.features]
        sets[name] = PreparedSet(name, int(row.id), version, names_, fs.ttl)
    return OnlineQuery(project, environment, sets)


def fetch(
    store: Store,
    query: OnlineQuery,
    keys: Mapping[str, Sequence[str]],
    at: datetime | None = None,
) -> dict[str, list[OnlineRow]]:
    """Each set's rows for its keys (in order), TTL applied at `at`: ONE SELECT for all sets."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    with store.read() as conn:
        return _fetch(conn, query, keys, moment)


def _fetch(
    conn: Connection, query: OnlineQuery, keys: Mapping[str, Sequence[str]], moment: datetime
) -> dict[str, list[OnlineRow]]:
    wanted = sorted({str(k) for ks in keys.values() for k in ks})
    ids = {query.sets[name].def_id: name for name in keys}
    found: dict[str, dict[str, Any]] = {name: {} for name in keys}
    if wanted:
        params = {"def_ids": list(ids), "environment": query.environment, "keys": wanted}
        for r in conn.execute(_ROWS, params):
            found[ids[r.def_id]][r.entity_key] = r
    out: dict[str, list[OnlineRow]] = {}
    for name, ks in keys.items():
        s = query.sets[name]
        here = found[name]
        out[name] = [
            _answer(str(k), here.get(str(k)), s.names, s.ttl, s.version, moment) for k in ks
        ]
    return out


def _any_rows(store: Store, def_id: int, environment: str) -> bool:
    with store.read() as conn:
        return (
            conn.execute(
                select(feature_online.c.def_id)
                .where(feature_online.c.def_id == def_id)
                .where(feature_online.c.environment == environment)
                .limit(1)
            ).first()
            is not None
        )


def _answer(
    key: str, stored: Any, names: list[str], ttl: timedelta | None, version: int, at: datetime
) -> OnlineRow:
    if stored is None:
        reason = "no value for this entity in the online table"
        return OnlineRow(key=key, values=dict.fromkeys(names), event_time=None,
                         missing=dict.fromkeys(names, reason))  # fmt: skip
    event = datetime.fromtimestamp(int(stored.event_at) / 1000, UTC)
    if event > at:
        reason = f"the value's event time {event.isoformat()} is after {at.isoformat()}"
        return OnlineRow(key=key, values=dict.fromkeys(names), event_time=event,
                         missing=dict.fromkeys(names, reason))  # fmt: skip
    if stored.version != version:
        reason = f"materialised by version {stored.version}, not {version}; materialise again"
        return OnlineRow(key=key, values=dict.fromkeys(names), event_time=event,
                         missing=dict.fromkeys(names, reason))  # fmt: skip
    if ttl is not None and at - event > ttl:
        reason = f"past its TTL ({ttl}): event time {event.isoformat()}"
        return OnlineRow(key=key, values=dict.fromkeys(names), event_time=event,
                         missing=dict.fromkeys(names, reason))  # fmt: skip
    values = {n: stored.features.get(n) for n in names}
    missing = {n: "null in the source" for n, v in values.items() if v is None}
    return OnlineRow(key=key, values=values, event_time=event, missing=missing)
