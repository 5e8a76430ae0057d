"""Run search: the filter grammar (relayml.domain.search) compiled to SQL.

Ordering by a metric is driven by the index on latest_metrics(key, value, run_id): phase 1
walks the runs that have the metric in value order, phase 2 then lists the runs without it
(newest first). Page tokens remember the phase and the offset within it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, or_, select
from sqlalchemy.sql import Select

from relayml.domain.entities import RunPage
from relayml.domain.search import (
    And,
    Comparison,
    Expr,
    Or,
    OrderBy,
    parse_filter,
    parse_order_by,
)
from relayml.errors import InvalidInput
from relayml.projects import project_id
from relayml.store import Store
from relayml.store.schema import experiments as experiments_t
from relayml.store.schema import latest_metrics, params, runs, tags
from relayml.tracking.runs import load_runs

__all__ = ["MAX_RESULTS", "search_runs"]

MAX_RESULTS = 10_000
_ATTRIBUTE_COLUMNS = {
    "run_id": runs.c.id,
    "name": runs.c.name,
    "status": runs.c.status,
    "user": runs.c.user,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "duration": runs.c.wall_time,
}


def _apply(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value  # type: ignore[no-any-return]
    if op == "!=":
        return column != value  # type: ignore[no-any-return]
    if op == "<":
        return column < value  # type: ignore[no-any-return]
    if op == "<=":
        return column <= value  # type: ignore[no-any-return]
    if op == ">":
        return column > value  # type: ignore[no-any-return]
    if op == ">=":
        return column >= value  # type: ignore[no-any-return]
    if op == "LIKE":
        return column.like(value)  # type: ignore[no-any-return]
    if op == "ILIKE":
        return column.ilike(value)  # type: ignore[no-any-return]
    if op == "IN":
        return column.in_(list(value))  # type: ignore[no-any-return]
    if op == "NOT IN":
        return column.not_in(list(value))  # type: ignore[no-any-return]
    raise InvalidInput(f"operator {op!r} is not supported.")


def _key_value_table(kind: str) -> Any:
    return {"metric": latest_metrics, "param": params, "tag": tags}[kind]


def _condition(expr: Expr, pid: int) -> ColumnElement[bool]:
    if isinstance(expr, And):
        return and_(*(_condition(e, pid) for e in expr.items))
    if isinstance(expr, Or):
        return or_(*(_condition(e, pid) for e in expr.items))
    assert isinstance(expr, Comparison)
    field = expr.field
    if field.kind == "attribute":
        if field.key == "experiment":
            sub = select(experiments_t.c.id).where(
                experiments_t.c.project_id == pid, _apply(experiments_t.c.name, expr.op, expr.value)
            )
            return runs.c.experiment_id.in_(sub)
        return _apply(_ATTRIBUTE_COLUMNS[field.key], expr.op, expr.value)
    table = _key_value_table(field.kind)
    return exists().where(
        table.c.run_id == runs.c.id,
        table.c.key == field.key,
        _apply(table.c.value, expr.op, expr.value),
    )


def _decode_token(token: str | None) -> tuple[int, int]:
    if not token:
        return 1, 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        phase, offset = int(data["p"]), int(data["o"])
        if phase not in (1, 2) or offset < 0:
            raise ValueError(token)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            f"page token {token!r} is not valid; pass the next_page_token of a previous "
            "search with the same filter and order."
        ) from exc
    return phase, offset


def _encode_token(phase: int, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": phase, "o": offset}).encode()).decode()


def _order_column(order: OrderBy) -> Any:
    field = order.field
    if field.kind == "attribute":
        if field.key == "experiment":
            return (
                select(experiments_t.c.name)
                .where(experiments_t.c.id == runs.c.experiment_id)
                .scalar_subquery()
            )
        return _ATTRIBUTE_COLUMNS[field.key]
    table = _key_value_table(field.kind)
    return (
        select(table.c.value)
        .where(table.c.run_id == runs.c.id, table.c.key == field.key)
        .scalar_subquery()
    )


def _directed(column: Any, descending: bool) -> Any:
    return column.desc().nulls_last() if descending else column.asc().nulls_last()


def search_runs(
    store: Store,
    project: str,
    *,
    filter: str | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int = 100,
    page_token: str | None = None,
    experiments: Sequence[str] | None = None,
    include_deleted: bool = False,
) -> RunPage:
    """Runs of a project matching a filter, in the given order, one page at a time.

    Deleted runs, and the runs of deleted experiments, are left out unless include_deleted.
    """
    if not 1 <= max_results <= MAX_RESULTS:
        raise InvalidInput(f"max_results must be between 1 and {MAX_RESULTS}, got {max_results}.")
    expr = parse_filter(filter)
    orders = parse_order_by(order_by)
    phase, offset = _decode_token(page_token)
    with store.read() as conn:
        pid = project_id(conn, project)
        where = [runs.c.project_id == pid]
        if experiments:
            sub = select(experiments_t.c.id).where(
                experiments_t.c.project_id == pid, experiments_t.c.name.in_(list(experiments))
            )
            where.append(runs.c.experiment_id.in_(sub))
        if not include_deleted:
            deleted = select(experiments_t.c.id).where(
                experiments_t.c.project_id == pid, experiments_t.c.deleted_at.is_not(None)
            )
            where += [runs.c.deleted_at.is_(None), runs.c.experiment_id.not_in(deleted)]
        if expr is not None:
            where.append(_condition(expr, pid))
        ids, token = _page(conn, where, orders, max_results, phase, offset)
        return RunPage(runs=load_runs(conn, ids), next_page_token=token)


def _page(
    conn: Connection,
    where: list[ColumnElement[bool]],
    orders: list[OrderBy],
    limit: int,
    phase: int,
    offset: int,
) -> tuple[list[str], str | None]:
    lead = orders[0] if orders else None
    tie = [_directed(_order_column(o), o.descending) for o in orders[1:]]
    if lead is None or lead.field.kind != "metric":
        order = [_directed(_order_column(lead), lead.descending)] if lead else []
        order += [*tie, runs.c.start_time.desc(), runs.c.id.desc()]
        query = select(runs.c.id).where(*where).order_by(*order)
        found = _fetch(conn, query, offset, limit + 1)
        more = len(found) > limit
        return found[:limit], (_encode_token(1, offset + limit) if more else None)

    # Phase 1: runs that have the metric, walked through the (key, value, run_id) index.
    lm = latest_metrics.alias("order_metric")
    ids: list[str] = []
    if phase == 1:
        direction = [lm.c.value.desc(), lm.c.run_id.desc()]
        if not lead.descending:
            direction = [lm.c.value.asc(), lm.c.run_id.asc()]
        query = (
            select(runs.c.id)
            .join(lm, and_(lm.c.run_id == runs.c.id, lm.c.key == lead.field.key))
            .where(lm.c.value.is_not(None), *where)
            .order_by(*direction[:1], *tie, *direction[1:])
        )
        ids = _fetch(conn, query, offset, limit + 1)
        if len(ids) > limit:
            return ids[:limit], _encode_token(1, offset + limit)
        offset = 0
    # Phase 2: runs without the metric (or with NaN), newest first.
    missing = ~exists().where(
        latest_metrics.c.run_id == runs.c.id,
        latest_metrics.c.key == lead.field.key,
        latest_metrics.c.value.is_not(None),
    )
    need = limit - len(ids)
    query = (
        select(runs.c.id)
        .where(missing, *where)
        .order_by(*tie, runs.c.start_time.desc(), runs.c.id.desc())
    )
    more_ids = _fetch(conn, query, offset, need + 1)
    token = _encode_token(2, offset + need) if len(more_ids) > need else None
    return ids + more_ids[:need], token


def _fetch(conn: Connection, query: Select[Any], offset: int, count: int) -> list[str]:
    return [r[0] for r in conn.execute(query.offset(offset).limit(count))]
