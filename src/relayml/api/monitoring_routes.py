"""Routes of /api/v1 for monitoring: predictions by id, feedback flags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from relayml.api.auth import requires
from relayml.api.responses import ok
from relayml.api.routes import backend_of
from relayml.domain.monitoring import (
    AlertEvent,
    AlertRule,
    DecisionTableInfo,
    FeedbackFlag,
    PredictionRecord,
)

__all__ = ["router"]

router = APIRouter()
ARROW_STREAM = "application/vnd.apache.arrow.stream"


def _doc(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model}}


class FlagIn(BaseModel):
    """A flag on one prediction."""

    prediction_id: str
    kind: Literal["wrong", "unexpected"]
    comment: str = ""
    correct_value: str | int | float | bool | None = None


class RulesIn(BaseModel):
    """An alerts file's text (YAML or JSON)."""

    source: str


class ResolveIn(BaseModel):
    """How a flag was resolved."""

    resolution: str


@router.get(
    "/projects/{project}/predictions/{prediction_id}",
    tags=["monitoring"],
    responses=_doc(PredictionRecord),
    dependencies=[requires("project.read")],
)
def get_prediction(request: Request, project: str, prediction_id: str) -> Response:
    """A logged prediction by its id: inputs, answer, version."""
    return ok(backend_of(request).get_prediction(project, prediction_id))


@router.get(
    "/projects/{project}/deployments/{model}/{environment}/production",
    tags=["monitoring"],
    response_class=Response,
    responses={200: {"content": {ARROW_STREAM: {}}, "description": "an Arrow IPC stream"}},
    dependencies=[requires("project.read")],
)
def production_frame(
    request: Request,
    project: str,
    model: str,
    environment: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Response:
    """A deployment's logged inputs, predictions, decisions and outcomes, as Arrow."""
    from relayml.predictions.frame import arrow_bytes

    table = backend_of(request).production_table(
        project, model, environment, since=since, until=until
    )
    return Response(arrow_bytes(table), media_type=ARROW_STREAM)


@router.post(
    "/projects/{project}/feedback",
    tags=["monitoring"],
    responses=_doc(FeedbackFlag),
    dependencies=[requires("feedback.flag")],
)
def flag_prediction(request: Request, project: str, body: FlagIn) -> Response:
    """Flag a prediction as wrong or unexpected; a given right answer becomes an outcome."""
    flag = backend_of(request).flag_prediction(
        project,
        body.prediction_id,
        body.kind,
        comment=body.comment,
        correct_value=body.correct_value,
    )
    return ok(flag)


@router.get(
    "/projects/{project}/feedback",
    tags=["monitoring"],
    responses=_doc(list[FeedbackFlag]),
    dependencies=[requires("project.read")],
)
def list_flags(
    request: Request,
    project: str,
    model: str | None = None,
    status: Literal["open", "resolved", "all"] = "open",
) -> Response:
    """Flags of a project, newest first."""
    chosen = None if status == "all" else status
    return ok(backend_of(request).list_flags(project, model, chosen))


@router.post(
    "/projects/{project}/feedback/{flag_id}/resolve",
    tags=["monitoring"],
    responses=_doc(FeedbackFlag),
    dependencies=[requires("feedback.resolve")],
)
def resolve_flag(request: Request, project: str, flag_id: int, body: ResolveIn) -> Response:
    """Close a flag, saying what was done."""
    return ok(backend_of(request).resolve_flag(project, flag_id, body.resolution))


@router.put(
    "/projects/{project}/alerts/rules",
    tags=["monitoring"],
    responses=_doc(list[AlertRule]),
    dependencies=[requires("alerts.write")],
)
def set_alert_rules(request: Request, project: str, body: RulesIn) -> Response:
    """Make the project's alert rules those of an alerts file."""
    return ok(backend_of(request).set_alert_rules(project, body.source))


@router.get(
    "/projects/{project}/alerts/rules",
    tags=["monitoring"],
    responses=_doc(list[AlertRule]),
    dependencies=[requires("project.read")],
)
def list_alert_rules(request: Request, project: str) -> Response:
    """Every alert rule of a project."""
    return ok(backend_of(request).list_alert_rules(project))


@router.get(
    "/projects/{project}/alerts",
    tags=["monitoring"],
    responses=_doc(list[AlertEvent]),
    dependencies=[requires("project.read")],
)
def list_alert_events(request: Request, project: str, all: bool = False) -> Response:
    """Alert events, newest first: open and acknowledged ones, or all."""
    return ok(backend_of(request).list_alert_events(project, active_only=not all))


@router.post(
    "/projects/{project}/alerts/{event_id}/acknowledge",
    tags=["monitoring"],
    responses=_doc(AlertEvent),
    dependencies=[requires("alerts.write")],
)
def acknowledge_alert(request: Request, project: str, event_id: int) -> Response:
    """Mark an open alert as seen."""
    return ok(backend_of(request).acknowledge_alert(project, event_id))


@router.post(
    "/projects/{project}/monitors/run", tags=["monitoring"], dependencies=[requires("alerts.write")]
)
def run_monitors(request: Request, project: str, at: datetime | None = None) -> Response:
    """Evaluate the project's alert rules now (what the scheduler does every interval), or as
    of `at` (ISO 8601; UTC when no offset is given): the windows that end then, for traffic
    replayed with `relay serve --replay`."""
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return ok(backend_of(request).run_monitors(project, at))


@router.put(
    "/projects/{project}/models/{model}/decisions",
    tags=["monitoring"],
    responses=_doc(DecisionTableInfo),
    dependencies=[requires("decisions.write")],
)
def set_decision_table(request: Request, project: str, model: str, body: RulesIn) -> Response:
    """Store a new revision of a model's decision table (YAML or JSON in `source`)."""
    return ok(backend_of(request).set_decision_table(project, model, body.source))


@router.get(
    "/projects/{project}/models/{model}/decisions",
    tags=["monitoring"],
    responses=_doc(DecisionTableInfo),
    dependencies=[requires("project.read")],
)
def get_decision_table(
    request: Request, project: str, model: str, revision: int | None = None
) -> Response:
    """The newest decision table of a model, or one revision."""
    return ok(backend_of(request).get_decision_table(project, model, revision))


@router.get(
    "/projects/{project}/predictions/{prediction_id}/explanation",
    tags=["monitoring"],
    dependencies=[requires("project.read")],
)
def explain_prediction(request: Request, project: str, prediction_id: str) -> Response:
    """Each input's contribution to one logged prediction (exact for trees and linear models)."""
    return ok(backend_of(request).explain_prediction(project, prediction_id))


@router.get(
    "/projects/{project}/importance", tags=["monitoring"], dependencies=[requires("project.read")]
)
def model_importance(
    request: Request, project: str, ref: str, dataset: str | None = None
) -> Response:
    """Global importance of each input of a model version over its training data."""
    return ok(backend_of(request).model_importance(project, ref, dataset))


@router.post(
    "/projects/{project}/logs/compact", tags=["monitoring"], dependencies=[requires("alerts.write")]
)
def compact_logs(request: Request, project: str) -> Response:
    """Merge each closed day's prediction, outcome and request log files into one."""
    return ok(backend_of(request).compact_logs(project))
