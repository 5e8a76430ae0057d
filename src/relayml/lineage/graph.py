"""The lineage graph: nodes keyed by (kind, key), directed edges src --relation--> dst.

Edges point the way data flows: a source feeds a dataset version, a dataset version is an
input of a run, a run produced a model version. Upstream of a node is everything with a path
into it; downstream is everything its paths reach.

Kinds relay uses, and the form of their keys:

    dataset_version   project/name@version                  churn/customers@3
    run               the run id (32 hex characters)
    model_version     project/name/version                  churn/churn/3
    pipeline_run      the pipeline run id
    step_run          the step run id
    step_output       a step's stored output: its sha256
    source            a URI                                  s3://bucket/raw/customers.csv
    dataset           OpenLineage dataset: namespace/name    postgres://db:5432/public.orders
    job               OpenLineage job: namespace/name        airflow/etl.load_orders
    job_run           OpenLineage run: its runId (a UUID)

Other kinds are allowed (lower-case letters, digits and '_'); so are other relations. The
relations in use: derived_from, input_of, produced, part_of, run_of, parent_of.

Keys longer than the column (500 characters) are stored as their first 420 characters plus a
sha256 of the whole key, by :func:`node_key`, both when recorded and when looked up.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    literal_column,
    null,
    or_,
    select,
)

from relayml.domain.lineage import LineageEdge, LineageGraph, LineageNode
from relayml.errors import InvalidInput, NotFound
from relayml.governance import audit
from relayml.lineage.identity import source_key
from relayml.store import Store, now_ms
from relayml.store.fast import FastStatement, upsert_insert
from relayml.store.schema import lineage_edges, lineage_nodes

__all__ = [
    "DIRECTIONS",
    "KINDS",
    "MAX_DEPTH",
    "MAX_NODES",
    "audit_id",
    "lineage",
    "link",
    "node_key",
    "record",
]

KINDS = (
    "dataset_version", "run", "model_version", "pipeline_run", "step_run", "step_output",
    "source", "dataset", "job", "job_run",
)  # fmt: skip
DIRECTIONS = ("upstream", "downstream", "both")
MAX_NODES = 5_000  # a graph bigger than this comes back truncated, nearest nodes first
MAX_DEPTH = 10_000
_MAX_ROWS = 200_000  # rows one walk may return (a node counts once per depth it is reached at)
_KEY_MAX = 500
_LABEL_MAX = 500
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


def _shorten(key: str, limit: int) -> str:
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: limit - 80]}…#sha256:{digest}"


def node_key(key: str) -> str:
    """The key as stored: itself, or, past 500 characters, a prefix and the key's sha256."""
    return _shorten(key, _KEY_MAX)


def audit_id(key: str) -> str:
    """A node key short enough for the audit log's entity_id (250 characters)."""
    return _shorten(key, 250)


def _check_name(what: str, value: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        known = f" (kinds relay uses: {', '.join(KINDS)})" if what == "kind" else ""
        raise InvalidInput(
            f"lineage {what} {value!r} must be 1 to 50 lower-case letters, digits or '_', "
            f"starting with a letter{known}."
        )
    return value


def _check_key(kind: str, key: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput(f"a lineage node of kind {kind!r} needs a non-empty key.")
    return node_key(key)


def _clean(
    nodes: Iterable[LineageNode], edges: Iterable[LineageEdge]
) -> tuple[dict[tuple[str, str], dict[str, Any]], list[dict[str, Any]]]:
    """Validated rows: nodes merged by (kind, key) in order, edges without repeats."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for node in nodes:
        kind = _check_name("kind", node.kind)
        ident = (kind, _check_key(kind, node.key))
        row = merged.setdefault(ident, {"kind": kind, "key": ident[1], "label": "", "facets": {}})
        if node.label:
            row["label"] = node.label[:_LABEL_MAX]
        row["facets"].update(node.facets)
    seen: set[tuple[str, ...]] = set()
    edge_rows: list[dict[str, Any]] = []
    for edge in edges:
        src_kind = _check_name("kind", edge.src_kind)
        dst_kind = _check_name("kind", edge.dst_kind)
        relation = _check_name("relation", edge.relation)
        src_key, dst_key = _check_key(src_kind, edge.src_key), _check_key(dst_kind, edge.dst_key)
        if (src_kind, src_key) == (dst_kind, dst_key):
            raise InvalidInput(
                f"a lineage edge cannot link {src_kind} {src_key!r} to itself ({relation})."
            )
        ident5 = (src_kind, src_key, dst_kind, dst_key, relation)
        if ident5 not in seen:
            seen.add(ident5)
            edge_rows.append(dict(zip(_EDGE_COLUMNS, ident5, strict=True)))
    return merged, edge_rows


_EDGE_COLUMNS = ("src_kind", "src_key", "dst_kind", "dst_key", "relation")


@functools.cache
def _node_upsert(dialect: str) -> FastStatement:
    stmt = upsert_insert(dialect)(lineage_nodes)
    ex = stmt.excluded
    if dialect == "postgresql":  # a shallow merge in one statement, safe under concurrency
        from sqlalchemy.dialects.postgresql import JSONB

        facets: Any = cast(
            cast(lineage_nodes.c.facets, JSONB).op("||")(cast(ex.facets, JSONB)), JSON
        )
    else:  # SQLite: merged in Python beforehand; writers hold the database lock meanwhile
        facets = ex.facets
    return FastStatement(
        stmt.on_conflict_do_update(
            index_elements=["kind", "key"],
            set_={
                "label": case(
                    (ex.label == literal_column("''"), lineage_nodes.c.label), else_=ex.label
                ),
                "facets": facets,
                "updated_at": ex.updated_at,
            },
        ),
        json_params=("facets",),
    )


@functools.cache
def _node_placeholder(dialect: str) -> FastStatement:
    stmt = upsert_insert(dialect)(lineage_nodes)
    stmt = stmt.on_conflict_do_nothing(index_elements=["kind", "key"])
    return FastStatement(stmt, json_params=("facets",))


@functools.cache
def _edge_insert(dialect: str) -> FastStatement:
    stmt = upsert_insert(dialect)(lineage_edges).on_conflict_do_nothing(
        index_elements=list(_EDGE_COLUMNS)
    )
    return FastStatement(stmt)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _stored_nodes(
    conn: Connection, idents: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Any]:
    """The stored rows of these nodes, looked up per kind by primary key."""
    by_kind: dict[str, list[str]] = {}
    for kind, key in idents:
        by_kind.setdefault(kind, []).append(key)
    found: dict[tuple[str, str], Any] = {}
    cols = lineage_nodes.c
    for kind, keys in by_kind.items():
        for part in _chunks(keys, 1000):
            query = select(cols.kind, cols.key, cols.label, cols.facets).where(
                cols.kind == kind, cols.key.in_(list(part))
            )
            for row in conn.execute(query).all():
                found[(row.kind, row.key)] = row
    return found


def record(
    conn: Connection, nodes: Sequence[LineageNode], edges: Sequence[LineageEdge] = ()
) -> None:
    """Upsert nodes (label kept unless given, facets merged) and add edges, in conn's transaction.

    Edges already recorded are left as they are; an edge's ends that are not nodes yet become
    nodes without label or facets. Raises InvalidInput for a bad kind, key or relation.
    """
    merged, edge_rows = _clean(nodes, edges)
    if not merged and not edge_rows:
        return
    dialect = conn.dialect.name
    now = now_ms()
    if merged:
        if dialect != "postgresql":
            for ident, old in _stored_nodes(conn, list(merged)).items():
                row = merged[ident]
                row["facets"] = {**(old.facets or {}), **row["facets"]}
        _node_upsert(dialect).execute(
            conn, [{**row, "updated_at": now} for row in merged.values()]
        ).close()
    if edge_rows:
        ends: dict[tuple[str, str], dict[str, Any]] = {}
        for e in edge_rows:
            for kind, key in ((e["src_kind"], e["src_key"]), (e["dst_kind"], e["dst_key"])):
                if (kind, key) not in merged:
                    ends[(kind, key)] = {
                        "kind": kind, "key": key, "label": "", "facets": {}, "updated_at": now
                    }  # fmt: skip
        if ends:
            _node_placeholder(dialect).execute(conn, list(ends.values())).close()
        _edge_insert(dialect).execute(conn, [{**e, "created_at": now} for e in edge_rows]).close()


def link(
    store: Store, actor: str, nodes: Sequence[LineageNode], edges: Sequence[LineageEdge] = ()
) -> None:
    """Record nodes and edges as one change, with its audit entry."""
    with store.write() as conn:
        record(conn, nodes, edges)
        if nodes:
            first = (nodes[0].kind, nodes[0].key)
        elif edges:
            first = (edges[0].src_kind, edges[0].src_key)
        else:
            return
        audit.record(
            conn,
            actor=actor,
            action="lineage.link",
            entity_kind=first[0],
            entity_id=audit_id(first[1]),
            after={
                "nodes": [f"{n.kind}:{n.key}" for n in nodes[:20]],
                "edges": [
                    f"{e.src_kind}:{e.src_key} -{e.relation}-> {e.dst_kind}:{e.dst_key}"
                    for e in edges[:20]
                ],
                "node_count": len(nodes),
                "edge_count": len(edges),
            },
        )


def _walk(
    conn: Connection, kind: str, key: str, depth: int, upstream: bool
) -> tuple[list[Any], bool]:
    """One recursive query: every node within depth of the root, with the edge that reached it."""
    e = lineage_edges.c
    near_kind, near_key, far_kind, far_key = (
        (e.dst_kind, e.dst_key, e.src_kind, e.src_key)
        if upstream
        else (e.src_kind, e.src_key, e.dst_kind, e.dst_key)
    )
    anchor = select(
        cast(bindparam("root_kind", kind), String(50)).label("kind"),
        cast(bindparam("root_key", key), String(500)).label("key"),
        literal_column("0", Integer).label("depth"),
        cast(null(), String(50)).label("via_kind"),
        cast(null(), String(500)).label("via_key"),
        cast(null(), String(50)).label("relation"),
    )
    walk = anchor.cte("walk", recursive=True)
    step = (
        select(
            far_kind,
            far_key,
            walk.c.depth + literal_column("1", Integer),
            walk.c.kind,
            walk.c.key,
            e.relation,
        )
        .select_from(
            walk.join(lineage_edges, and_(near_kind == walk.c.kind, near_key == walk.c.key))
        )
        .where(walk.c.depth < bindparam("max_depth", depth))
    )
    walk = walk.union(step)  # UNION, not UNION ALL: each (node, depth, edge) once, cycles end
    query = select(walk).order_by(walk.c.depth).limit(_MAX_ROWS)
    rows = list(conn.execute(query).all())
    return rows, len(rows) >= _MAX_ROWS


def lineage(
    store: Store, kind: str, key: str, *, depth: int = 3, direction: str = "both"
) -> LineageGraph:
    """The nodes and edges within depth of a node: upstream, downstream or both.

    Raises NotFound when nothing is recorded about the node, InvalidInput for a bad kind,
    depth or direction. More than MAX_NODES nodes come back as the nearest ones, truncated.
    """
    kind = _check_name("kind", kind)
    if kind == "source" and isinstance(key, str) and key.strip():
        try:
            return _lineage(store, kind, _check_key(kind, key), depth, direction)
        except NotFound as missing:  # relay records what it reads as datasets, by OL name
            try:
                dataset = _check_key("dataset", source_key(key))
                return _lineage(store, "dataset", dataset, depth, direction)
            except NotFound:
                raise missing from None
    return _lineage(store, kind, _check_key(kind, key), depth, direction)


def _lineage(store: Store, kind: str, key: str, depth: int, direction: str) -> LineageGraph:
    if direction not in DIRECTIONS:
        raise InvalidInput(f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}.")
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise InvalidInput(f"depth must be a whole number from 1 to {MAX_DEPTH}, not {depth!r}.")
    depths: dict[tuple[str, str], int] = {(kind, key): 0}
    edges: set[tuple[str, str, str, str, str]] = set()
    truncated = False
    with store.read() as conn:
        for upstream in (True, False):
            if direction == ("downstream" if upstream else "upstream"):
                continue
            rows, full = _walk(conn, kind, key, depth, upstream)
            truncated |= full
            for r_kind, r_key, r_depth, via_kind, via_key, relation in rows:
                ident = (r_kind, r_key)
                if r_depth < depths.get(ident, r_depth + 1):
                    depths[ident] = r_depth
                if via_kind is not None:
                    edges.add(
                        (r_kind, r_key, via_kind, via_key, relation)
                        if upstream
                        else (via_kind, via_key, r_kind, r_key, relation)
                    )
        order = sorted(depths, key=lambda ident: (depths[ident], ident))
        if len(order) > MAX_NODES:
            truncated = True
            order = order[:MAX_NODES]
        stored = _stored_nodes(conn, order)
        if (kind, key) not in stored and len(order) == 1 and not _has_edges(conn, kind, key):
            raise NotFound(
                f"no lineage is recorded for {kind} {key!r}. Check the kind and the key "
                f"(kinds: {', '.join(KINDS)}); see `relay lineage --help`."
            )
    kept = set(order)
    nodes = [
        LineageNode(kind=k, key=n, label=stored[(k, n)].label, facets=stored[(k, n)].facets or {})
        if (k, n) in stored
        else LineageNode(kind=k, key=n)
        for k, n in order
    ]
    return LineageGraph(
        root=nodes[0],
        nodes=nodes,
        edges=[
            LineageEdge(src_kind=a, src_key=b, dst_kind=c, dst_key=d, relation=r)
            for a, b, c, d, r in sorted(edges)
            if (a, b) in kept and (c, d) in kept
        ],
        depth=depth,
        truncated=truncated,
    )


def _has_edges(conn: Connection, kind: str, key: str) -> bool:
    e = lineage_edges.c
    query = (
        select(e.id)
        .where(
            or_(
                and_(e.src_kind == kind, e.src_key == key),
                and_(e.dst_kind == kind, e.dst_key == key),
            )
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None
