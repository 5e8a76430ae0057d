"""Monitoring: drift per feature over time (a heat-table), performance once outcomes arrived,
KPIs against their targets in business terms, and the alerts with their deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from relayml.api.auth import requires
from relayml.domain.identity import Identity
from relayml.errors import RelayError
from relayml.monitoring.kpis import progress_text
from relayml.monitoring.window_cache import WindowFigures
from relayml.monitoring.windows import WINDOWS, WindowQuery
from relayml.web.pages.common import page_router
from relayml.web.pages.ops_common import padded, served
from relayml.web.render import backend_of, page

__all__ = ["router"]

router = page_router()
SPAN = {"hour": timedelta(days=2), "day": timedelta(days=30), "week": timedelta(weeks=26)}
MAX_WINDOWS = 60
ALERTS_SHOWN = 50


def _drift(figures: WindowFigures) -> dict[str, Any]:
    query = figures.query
    reference, windows = figures.drift()
    windows = windows[-MAX_WINDOWS:]
    columns = sorted({c.column for w in windows for c in w.report.columns})
    cells = {
        name: [next((c for c in w.report.columns if c.column == name), None) for w in windows]
        for name in columns
    }
    step = int(query.size.total_seconds())
    share = {
        "x": [int(w.start.timestamp()) for w in windows],
        "x_time": True,
        "series": [
            {
                "label": "share of drifted inputs",
                "values": [round(w.report.share, 4) for w in windows],
            }
        ],
    }
    return {
        "reference": reference,
        "windows": windows,
        "cells": cells,
        "share": padded(share, step),
    }


def _performance(figures: WindowFigures) -> dict[str, Any]:
    query = figures.query
    windows = figures.performance()[-MAX_WINDOWS:]
    names = sorted({k for w in windows for k in w.metrics})
    estimated = sorted({k for w in windows for k in w.estimated})
    series = [{"label": k, "values": [w.metrics.get(k) for w in windows]} for k in names]
    series += [
        {
            "label": f"{k} (estimated)",
            "values": [w.estimated.get(k) for w in windows],
            "dash": [6, 4],
        }
        for k in estimated
    ]
    chart = {"x": [int(w.start.timestamp()) for w in windows], "x_time": True, "series": series}
    return {"windows": windows, "chart": padded(chart, int(query.size.total_seconds()))}


def _kpis(source: WindowFigures) -> list[dict[str, Any]]:
    query = source.query
    windows = source.kpis()[-MAX_WINDOWS:]
    names = sorted({k for w in windows for k in w.kpis})
    out = []
    x = [int(w.start.timestamp()) for w in windows]
    for name in names:
        figures = [w.kpis.get(name, {}) for w in windows]
        latest = figures[-1] if figures else {}
        values = [f.get("value") for f in figures]
        target = latest.get("target")
        series = [
            {"label": f"{name} ({latest.get('unit') or ''})".replace(" ()", ""), "values": values}
        ]
        if target is not None:
            series.append({"label": "target", "values": [target] * len(x), "dash": [4, 4]})
        out.append(
            {
                "name": name,
                "now": progress_text(name, latest) if latest else f"{name}: no value yet",
                "value": latest.get("value"),
                "target": target,
                "met": latest.get("meets_target"),
                "chart": padded(
                    {"x": x, "x_time": True, "series": series}, int(query.size.total_seconds())
                ),
                "has_values": any(v is not None for v in values),
            }
        )
    return out


def _part(make: Any, figures: WindowFigures) -> tuple[Any, str]:
    try:
        return make(figures), ""
    except RelayError as exc:
        return None, exc.message


@router.get("/projects/{project}/monitoring")
def monitoring_page(
    request: Request,
    project: str,
    deployment: str = "",
    window: str = "day",
    identity: Identity = requires("project.read"),
) -> Response:
    """Drift, performance and KPIs of one deployment over time; the project's alerts."""
    backend = backend_of(request)
    serving = served(backend, project)
    keys = [f"{s['model']}-{s['environment']}" for s in serving]
    chosen = next(
        (s for s in serving if f"{s['model']}-{s['environment']}" == deployment),
        serving[0] if serving else None,
    )
    window = window if window in WINDOWS else "day"
    parts: dict[str, Any] = {}
    if chosen is not None:
        since = datetime.now(UTC) - SPAN[window]
        query = WindowQuery(project, chosen["model"], chosen["environment"], window, since)
        figures = WindowFigures(backend, backend.logs, query)  # closed windows: kept figures
        parts["drift"], parts["drift_error"] = _part(_drift, figures)
        parts["performance"], parts["performance_error"] = _part(_performance, figures)
        parts["kpis"], parts["kpis_error"] = _part(_kpis, figures)
        figures.save()
    events = backend.list_alert_events(project, active_only=False)
    done = "Acknowledged." if request.query_params.get("done") else ""
    return page(
        request,
        "monitoring/monitoring.html",
        project=project,
        keys=keys,
        chosen=chosen,
        window=window,
        windows=list(WINDOWS),
        events=events[:ALERTS_SHOWN],
        more_events=max(0, len(events) - ALERTS_SHOWN),
        notice=done,
        span=SPAN[window].days,
        **parts,
    )


@router.post("/projects/{project}/alerts/{event_id}/acknowledge")
def acknowledge(
    request: Request, project: str, event_id: int, identity: Identity = requires("alerts.write")
) -> Response:
    """Mark an open alert as seen (who and when are recorded)."""
    backend_of(request).with_actor(identity.name).acknowledge_alert(project, event_id)
    return RedirectResponse(
        f"/projects/{quote(project)}/monitoring?done=acknowledged#alerts", status_code=303
    )
