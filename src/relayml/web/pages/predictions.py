"""Predictions: the latest ones of a deployment (a bounded page from the Parquet log), and one
prediction with its inputs, answers, decision, explanation, outcome and the flag form."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from relayml.api.auth import requires
from relayml.domain.identity import Identity
from relayml.domain.monitoring import PredictionRecord
from relayml.errors import InvalidInput, RelayError
from relayml.predictions.latest import deployments_in_log, latest_predictions, outcome_of
from relayml.web.pages.common import clamp_page, form_fields, page_router
from relayml.web.pages.ops_common import bars_svg
from relayml.web.render import backend_of, page

__all__ = ["router"]

router = page_router()


def known_deployments(backend: Any, project: str) -> list[str]:
    """Deployments of the store and those only the prediction log knows (served by alias)."""
    stored = [f"{d.model}-{d.environment}" for d in backend.list_deployments(project)]
    return sorted(set(stored) | set(deployments_in_log(backend.logs, project)))


@router.get("/projects/{project}/predictions")
def predictions_page(
    request: Request,
    project: str,
    deployment: str = "",
    cursor: str = "",
    size: int = 50,
    id: str = "",
    identity: Identity = requires("project.read"),
) -> Response:
    """The latest predictions of a deployment, newest first, a page at a time (or one by id)."""
    if id.strip():
        where = f"/projects/{quote(project)}/predictions/{quote(id.strip(), safe='')}"
        return RedirectResponse(where, status_code=303)
    backend = backend_of(request)
    backend.get_project(project)
    deployments = known_deployments(backend, project)
    chosen = deployment or (deployments[0] if deployments else "")
    _, size = clamp_page(1, size)
    rows: list[dict[str, Any]] = []
    next_link = ""
    error = ""
    if chosen:
        if chosen not in deployments:
            error = f"no deployment {chosen!r} in project {project!r}; pick one of the list."
        else:
            try:
                found = latest_predictions(
                    backend.logs, project, chosen, limit=size, cursor=cursor or None
                )
                rows = found.rows
                if found.next_cursor:
                    query = {"deployment": chosen, "cursor": found.next_cursor, "size": size}
                    next_link = f"/projects/{quote(project)}/predictions?{urlencode(query)}"
            except InvalidInput as exc:
                error = exc.message
    return page(
        request,
        "predictions/list.html",
        project=project,
        deployments=deployments,
        chosen=chosen,
        rows=rows,
        next_link=next_link,
        error=error,
        first=bool(cursor),
        size=size,
    )


def _record(backend: Any, project: str, prediction_id: str) -> PredictionRecord:
    record: PredictionRecord = backend.get_prediction(project, prediction_id)
    return record


def _prediction_page(
    request: Request,
    project: str,
    prediction_id: str,
    *,
    status: int = 200,
    notice: str = "",
    error: str = "",
) -> Response:
    backend = backend_of(request)
    record = _record(backend, project, prediction_id)
    explanation: dict[str, Any] | None = None
    why_not = ""
    try:
        explanation = backend.explain_prediction(project, prediction_id)
    except RelayError as exc:
        why_not = exc.message
    bars = None
    if explanation:
        pairs = list(zip(explanation["columns"], explanation["contributions"], strict=False))
        pairs.sort(key=lambda p: abs(p[1]), reverse=True)
        values = dict(zip(explanation["columns"], explanation["values"], strict=False))
        bars = bars_svg(
            [(f"{c} = {values.get(c)}", float(v)) for c, v in pairs[:20]],
            f"Each input's contribution to {explanation.get('output', 'the answer')}",
        )
    try:
        table = backend.get_decision_table(project, record.model).document
    except RelayError:
        table = None
    version = backend.get_model_version(project, f"{record.model}/{record.version}")
    flags = [
        f
        for f in backend.list_flags(project, record.model, None)
        if f.prediction_id == prediction_id
    ][:20]
    return page(
        request,
        "predictions/prediction.html",
        status=status,
        project=project,
        r=record,
        explanation=explanation,
        why_not=why_not,
        bars=bars,
        table=table,
        outcome=outcome_of(backend.logs, project, prediction_id, record.timestamp),
        classes=version.signature.classes or [],
        task=version.signature.task,
        flags=flags,
        notice=notice,
        error=error,
    )


@router.get("/projects/{project}/predictions/{prediction_id}")
def prediction_page(
    request: Request,
    project: str,
    prediction_id: str,
    identity: Identity = requires("project.read"),
) -> Response:
    """One prediction: inputs, answers (live and shadow), decision, explanation, outcome."""
    done = "Flagged; it is in the feedback triage." if request.query_params.get("done") else ""
    return _prediction_page(request, project, prediction_id, notice=done)


def correct_value(text: str, classes: list[Any], task: str) -> Any:
    """The right answer typed in the form, as the model's class (or number); None if empty."""
    text = text.strip()
    if not text:
        return None
    if classes:
        for c in classes:
            if str(c) == text:
                return c
        raise InvalidInput(
            f"{text!r} is not one of the model's classes: {', '.join(str(c) for c in classes)}."
        )
    if task == "regression":
        try:
            return float(text)
        except ValueError:
            raise InvalidInput(f"{text!r} is not a number; the model answers numbers.") from None
    return text


@router.post("/projects/{project}/predictions/{prediction_id}/flag")
async def flag(
    request: Request,
    project: str,
    prediction_id: str,
    identity: Identity = requires("feedback.flag"),
) -> Response:
    """Flag this prediction as wrong or unexpected, with a comment and the right answer."""
    form = await form_fields(request, "kind", "comment", "correct_value")
    backend = backend_of(request).with_actor(identity.name)
    record = _record(backend, project, prediction_id)
    try:
        version = backend.get_model_version(project, f"{record.model}/{record.version}")
        value = correct_value(
            form["correct_value"], version.signature.classes or [], version.signature.task
        )
        backend.flag_prediction(
            project, prediction_id, form["kind"], comment=form["comment"], correct_value=value
        )
    except RelayError as exc:
        return _prediction_page(
            request, project, prediction_id, status=exc.http_status, error=exc.message
        )
    where = f"/projects/{quote(project)}/predictions/{quote(prediction_id)}?done=flagged"
    return RedirectResponse(where, status_code=303)
