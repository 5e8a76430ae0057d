"""Deployments: what serves where (variants, versions, traffic, mode), their revisions, health
from the request log, the A/B verdict, and "promote the winner" for those who deploy."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from relayml.api.auth import requires
from relayml.deployments.abresults import ab_results
from relayml.deployments.promote import promote_winner
from relayml.domain.identity import Identity
from relayml.errors import NotFound, RelayError
from relayml.monitoring.outcome_join import joined_columns
from relayml.predictions.health import request_health
from relayml.predictions.latest import deployments_in_log
from relayml.predictions.layout import deployment_key
from relayml.predictions.logs import PredictionLogs
from relayml.web.pages.common import page_router
from relayml.web.pages.ops_common import padded, served
from relayml.web.render import backend_of, page

__all__ = ["router"]

router = page_router()
DONE = {
    "shipped": "The winner now serves all the traffic.",
    "pending_approval": "The winner waits for approval before it takes the traffic; see its "
    "model version's page.",
}


class _ABColumns(PredictionLogs):
    """The prediction logs with a narrow `joined` (only the A/B columns). The A/B report now reads
    its own columns day by day (deployments/ab_windows.py); this stays for the test that pins
    that both reads give the same report (tests/integration/test_window_aggregates.py)."""

    def joined(self, project: str, deployment: str, since: datetime | None) -> Any:
        """The rows since a moment with their outcomes (the A/B report's columns only)."""
        return joined_columns(self, project, deployment, since)


@router.get("/projects/{project}/deployments")
def deployments_page(
    request: Request, project: str, identity: Identity = requires("project.read")
) -> Response:
    """Every deployment: strategy, variants and traffic, and the last day's health."""
    backend = backend_of(request)
    serving = served(backend, project)
    for s in serving:
        s["health"] = request_health(
            backend.logs, project, deployment_key(s["model"], s["environment"]), days=1
        )
    return page(
        request,
        "deployments/list.html",
        project=project,
        serving=serving,
        server_url=str(request.base_url).rstrip("/"),
    )


@router.get("/projects/{project}/deployments/{model}/{environment}")
def deployment_page(
    request: Request,
    project: str,
    model: str,
    environment: str,
    identity: Identity = requires("project.read"),
) -> Response:
    """One deployment: variants, revisions, health over a week, the A/B verdict."""
    done = DONE.get(request.query_params.get("done", ""), "")
    return _deployment_page(request, project, model, environment, notice=done)


def _deployment_page(
    request: Request,
    project: str,
    model: str,
    environment: str,
    *,
    status: int = 200,
    notice: str = "",
    error: str = "",
) -> Response:
    backend = backend_of(request)
    found = backend.get_model(project, model)
    key = deployment_key(model, environment)
    try:
        deployment = backend.get_deployment(project, model, environment)
        history = list(reversed(backend.deployment_history(project, model, environment)))[:50]
    except NotFound:
        if environment not in found.aliases and key not in deployments_in_log(
            backend.logs, project
        ):
            raise
        deployment, history = None, []
    health = request_health(backend.logs, project, key, days=7)
    charts = {
        "traffic": padded(
            {
                "x": health.buckets,
                "x_time": True,
                "series": [
                    {"label": "requests per hour", "values": health.counts},
                    {"label": "errors per hour", "values": health.error_counts},
                ],
            },
            3600,
        ),
        "latency": padded(
            {
                "x": health.buckets,
                "x_time": True,
                "series": [{"label": "p95 latency (ms)", "values": health.p95_by_bucket}],
            },
            3600,
        ),
    }
    try:
        report = ab_results(backend, backend.logs, project, model, environment, keep=True)
        ab_error = ""
    except RelayError as exc:
        report, ab_error = None, exc.message
    return page(
        request,
        "deployments/deployment.html",
        status=status,
        project=project,
        model=model,
        environment=environment,
        d=deployment,
        history=history,
        health=health,
        charts=charts,
        report=report,
        ab_error=ab_error,
        alias=found.aliases.get(environment),
        notice=notice,
        error=error,
        server_url=str(request.base_url).rstrip("/"),
    )


@router.post("/projects/{project}/deployments/{model}/{environment}/promote-winner")
def promote_the_winner(
    request: Request,
    project: str,
    model: str,
    environment: str,
    identity: Identity = requires("deploy.write"),
) -> Response:
    """Ship the A/B test's winner: gates and approvals apply; every step is audited."""
    backend = backend_of(request).with_actor(identity.name)
    where = f"/projects/{quote(project)}/deployments/{quote(model)}/{quote(environment)}"
    try:
        shipped = promote_winner(backend, backend.logs, project, model, environment)
    except RelayError as exc:
        return _deployment_page(
            request, project, model, environment, status=exc.http_status, error=exc.message
        )
    return RedirectResponse(f"{where}?done={shipped.status}", status_code=303)
