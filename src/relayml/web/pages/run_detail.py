"""One run: params, tags, latest metrics with their charts, system metrics, artifacts, lineage."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from relayml.api.auth import requires
from relayml.domain.entities import Run
from relayml.domain.identity import Identity
from relayml.errors import NotFound
from relayml.tracking.series import metric_series
from relayml.web.pages.common import page_router
from relayml.web.pages.runs_view import chart_data
from relayml.web.render import backend_of, page

__all__ = ["project_run", "router"]

router = page_router()

MAX_CHARTS = 12
MAX_ARTIFACTS = 200


def project_run(backend: object, project: str, run_id: str) -> Run:
    """The run, if it belongs to ``project`` (NotFound otherwise: a page shows its project's)."""
    run: Run = backend.get_run(run_id)  # type: ignore[attr-defined]
    if run.project != project:
        raise NotFound(f"project {project} has no run {run_id}; look in the runs table.")
    return run


def _system(run: Run) -> list[tuple[str, str]]:
    rows = []
    for key, value in sorted(run.system.items()):
        if isinstance(value, dict):
            text = ", ".join(f"{k}={v}" for k, v in list(value.items())[:12])
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value[:20]) + (" …" if len(value) > 20 else "")
        else:
            text = str(value)
        rows.append((key, text[:500]))
    return rows


@router.get("/projects/{project}/runs/{run_id}")
def run_page(
    request: Request, project: str, run_id: str, identity: Identity = requires("project.read")
) -> Response:
    """A run with everything it logged; charts are downsampled on the server."""
    backend = backend_of(request)
    run = project_run(backend, project, run_id)
    keys = sorted(run.metrics)
    charts = []
    for i, series in enumerate(metric_series(backend.store, [run.id], keys[:MAX_CHARTS])):
        if sum(len(p) for p in series.points.values()) > 1:  # a single value is in the table
            charts.append(
                {"id": f"metric-{i}", "key": series.key, "series": series,
                 "data": chart_data(series, {run.id: series.key})}
            )  # fmt: skip
    artifacts = backend.list_artifacts(run.id)
    return page(
        request,
        "runs/detail.html",
        project=project,
        run=run,
        charts=charts,
        more_metrics=max(0, len(keys) - MAX_CHARTS),
        system=_system(run),
        artifacts=artifacts[:MAX_ARTIFACTS],
        more_artifacts=max(0, len(artifacts) - MAX_ARTIFACTS),
    )
