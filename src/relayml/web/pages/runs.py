"""The experiments pages: the runs table (filter, sort, columns, pages) and runs compared.

The table reads one page of search_runs (the filter grammar, the order, the page token), never
all runs; the compare page reads the selected runs and their metric series downsampled in SQL
(tracking.series), so both stay fast however many runs the project holds.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from relayml.api.auth import requires
from relayml.domain.entities import Run
from relayml.domain.identity import Identity
from relayml.errors import InvalidInput, NotFound
from relayml.tracking.series import metric_series
from relayml.web.pages.common import page_router
from relayml.web.pages.runs_view import (
    ATTRIBUTES,
    auto_columns,
    chart_data,
    differing,
    known_columns,
    order_field,
    parallel_coordinates,
    parse_columns,
    query_string,
)
from relayml.web.render import backend_of, page

__all__ = ["router"]

router = page_router()

PAGE_SIZES = (25, 50, 100, 200)
MAX_COMPARE = 10
MAX_CHARTS = 12
MAX_TRAIL = 30  # previous page tokens kept in the query string (the way back)


def _label(run: Run) -> str:
    return f"{run.name} ({run.id[:6]})"


@router.get("/projects/{project}/runs")
def runs_page(
    request: Request,
    project: str,
    q: str = "",
    order: str = "",
    desc: str = "",
    cols: str = "",
    col: Annotated[list[str], Query()] = [],  # noqa: B006 - the column chooser's boxes
    exp: str = "",
    token: str = "",
    trail: str = "",
    size: int = 50,
    identity: Identity = requires("project.read"),
) -> Response:
    """One page of a project's runs: filtered, sorted, with the columns chosen."""
    backend = backend_of(request)
    experiments = [e.name for e in backend.list_experiments(project)]
    size = size if size in PAGE_SIZES else 50
    cols = ",".join([cols, *col]).strip(",") if col else cols
    chosen = parse_columns(cols)
    cols = ",".join(c.spec for c in chosen)
    error = ""
    runs: list[Run] = []
    next_token = None
    try:
        by = [order_field(*_split_order(order)) + (" DESC" if desc else " ASC")] if order else []
        found = backend.search_runs(
            project,
            filter=q or None,
            order_by=by or None,  # newest first, along the (project, start_time) index
            max_results=size,
            page_token=token or None,
            experiments=[exp] if exp else None,
        )
        runs, next_token = found.runs, found.next_page_token
    except InvalidInput as exc:
        error = exc.message
    columns = chosen or auto_columns(runs)
    state = {"q": q, "order": order, "desc": desc, "cols": cols, "exp": exp, "size": str(size)}
    trail_tokens = [t for t in trail.split(",") if t][-MAX_TRAIL:]
    pages = {
        "next": query_string(state, token=next_token, trail=",".join([*trail_tokens, token or "-"]))
        if next_token
        else "",
        "prev": query_string(
            state,
            token=None if trail_tokens[-1] == "-" else trail_tokens[-1],
            trail=",".join(trail_tokens[:-1]),
        )
        if trail_tokens
        else "",
        "number": len(trail_tokens) + 1,
        "first": query_string(state),
    }
    sorts = {
        spec: query_string(state, order=spec, desc="" if (order == spec and desc) else "1")
        for spec in [f"attribute.{a}" for _, a in ATTRIBUTES] + [c.spec for c in columns]
    }
    return page(
        request,
        "runs/list.html",
        project=project,
        runs=runs,
        error=error,
        q=q,
        order=order,
        desc=desc,
        exp=exp,
        size=size,
        sizes=PAGE_SIZES,
        experiments=experiments,
        columns=columns,
        chosen={c.spec for c in chosen},
        known=known_columns(runs, chosen),
        attributes=ATTRIBUTES,
        sorts=sorts,
        pages=pages,
        cols=cols,
    )


def _split_order(order: str) -> tuple[str, str]:
    kind, _, key = order.partition(".")
    if kind not in ("attribute", "params", "metrics") or not key:
        raise InvalidInput(
            f"cannot sort by {order!r}: pick a column heading (attribute.name, params.<key> or "
            "metrics.<key>)."
        )
    return kind, key


def _selected(ids: list[str]) -> list[str]:
    wanted = [i.strip() for item in ids for i in item.split(",") if i.strip()]
    return list(dict.fromkeys(wanted))


@router.get("/projects/{project}/runs/compare")
def compare_page(
    request: Request,
    project: str,
    ids: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI reads the default
    identity: Identity = requires("project.read"),
) -> Response:
    """The selected runs side by side: params (differences marked), metric charts, coordinates."""
    backend = backend_of(request)
    wanted = _selected(ids)
    if len(wanted) < 2:
        raise InvalidInput(
            f"select at least two runs to compare (tick them in the runs table), got {len(wanted)}."
        )
    if len(wanted) > MAX_COMPARE:
        raise InvalidInput(f"compare at most {MAX_COMPARE} runs at a time, not {len(wanted)}.")
    runs = []
    for run_id in wanted:
        run = backend.get_run(run_id)
        if run.project != project:
            raise NotFound(f"project {project} has no run {run_id}.")
        runs.append(run)
    labels = {r.id: _label(r) for r in runs}
    keys = sorted({k for r in runs for k in r.metrics})
    charts = [  # a metric logged once per run is in the table: a chart shows histories
        {"id": f"metric-{i}", "key": s.key, "data": chart_data(s, labels), "series": s}
        for i, s in enumerate(metric_series(backend.store, wanted, keys[:MAX_CHARTS]))
        if max(len(p) for p in s.points.values()) > 1
    ]
    return page(
        request,
        "runs/compare.html",
        project=project,
        runs=runs,
        labels=labels,
        params=differing(runs, "params"),
        metrics=differing(runs, "metrics"),
        charts=charts,
        more_metrics=max(0, len(keys) - MAX_CHARTS),
        coords=parallel_coordinates(runs, labels),
    )
