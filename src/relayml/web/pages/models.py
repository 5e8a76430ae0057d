"""Models: the registered models, one model's versions and promotions timeline, and a version's
page (signature, lineage, evaluations, gates per environment, pending promotions with the
approve / reject forms for those allowed, and the request of a promotion)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from relayml.api.auth import requires
from relayml.domain.identity import Identity
from relayml.domain.models import AliasEvent, ModelVersion, Promotion
from relayml.errors import NotFound, PermissionDenied, RelayError
from relayml.identity import access
from relayml.web.pages.common import form_fields, page_router
from relayml.web.pages.ops_common import lineage_data, served, timeline_svg
from relayml.web.render import backend_of, page, viewer_can

__all__ = ["router"]

router = page_router()
VERSIONS_SHOWN = 50
DONE = {
    "approve": "Approved.",
    "reject": "Rejected.",
    "requested": "Promotion requested.",
}


@router.get("/projects/{project}/models")
def models_page(
    request: Request, project: str, identity: Identity = requires("project.read")
) -> Response:
    """The registered models: aliases, latest version, where each is deployed."""
    backend = backend_of(request)
    models = backend.list_models(project)
    deployed: dict[str, list[dict[str, Any]]] = {}
    for s in served(backend, project):
        deployed.setdefault(s["model"], []).append(s)
    return page(request, "models/list.html", project=project, models=models, deployed=deployed)


@router.get("/projects/{project}/models/{name}")
def model_page(
    request: Request, project: str, name: str, identity: Identity = requires("project.read")
) -> Response:
    """One model: its versions, aliases history and which version held which environment."""
    backend = backend_of(request)
    model = backend.get_model(project, name)
    versions = backend.list_model_versions(project, name)
    history = backend.model_history(project, name)
    return page(
        request,
        "models/model.html",
        project=project,
        model=model,
        versions=versions[:VERSIONS_SHOWN],
        more_versions=max(0, len(versions) - VERSIONS_SHOWN),
        history=history,
        aliases=sorted(history.aliases, key=lambda a: a.assigned_at, reverse=True),
        promotions=sorted(history.promotions, key=lambda p: p.id, reverse=True)[:100],
        timeline=timeline_svg(_spans(history.aliases)),
    )


def _spans(events: list[AliasEvent]) -> list[tuple[str, str, datetime, datetime]]:
    now = datetime.now(UTC)
    return [
        (e.alias, f"v{e.version}", _utc(e.assigned_at), _utc(e.ended_at) if e.ended_at else now)
        for e in events
    ]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _version(backend: Any, project: str, name: str, version: str) -> ModelVersion:
    if not version.isdigit():
        raise NotFound(f"{name}/{version} is not a version: a version is a number, e.g. {name}/1.")
    found: ModelVersion = backend.get_model_version(project, f"{name}/{int(version)}")
    return found


def _environments(backend: Any, project: str) -> list[str]:
    try:
        envs = list(backend.get_policy(project).document.get("environments", {}) or {})
    except RelayError:
        envs = []
    return envs or ["staging", "production"]


def may_decide(
    request: Request, identity: Identity, project: str, version: ModelVersion, promo: Promotion
) -> bool:
    """Would the service take this viewer's decision on ``promo``? (the button is drawn then)"""
    production = promo.environment.split(":")[0] == "production"
    if production and version.created_by == identity.name:
        return False
    action = "promotion.production" if promo.environment == "production" else "promotion.decide"
    if not viewer_can(request, identity, action, project):
        return False
    if identity.is_admin or not promo.waiting_for:
        return True
    roles = access.project_roles(backend_of(request).store, identity.name, project)
    return any(role in roles for role in promo.waiting_for)


def _version_page(
    request: Request,
    identity: Identity,
    project: str,
    name: str,
    version: str,
    *,
    status: int = 200,
    notice: str = "",
    error: str = "",
) -> Response:
    backend = backend_of(request)
    found = _version(backend, project, name, version)
    ref = f"{name}/{found.version}"
    evaluations = backend.list_evaluations(project, ref)[:20]
    gates = []
    for env in _environments(backend, project):
        try:
            gates.append((env, backend.check_promotion(project, ref, env), ""))
        except RelayError as exc:
            gates.append((env, None, exc.message))
    history = backend.model_history(project, name)
    mine = [p for p in history.promotions if p.version == found.version]
    pending = [p for p in mine if p.status == "PENDING_APPROVAL"]
    deciders = {p.id: may_decide(request, identity, project, found, p) for p in pending}
    try:
        graph = lineage_data(
            backend.lineage("model_version", f"{project}/{ref}", depth=3),
            project,
            ("model_version", f"{project}/{ref}"),
        )
    except RelayError:
        graph = None
    return page(
        request,
        "models/version.html",
        status=status,
        project=project,
        name=name,
        v=found,
        evaluations=evaluations,
        gates=gates,
        pending=pending,
        deciders=deciders,
        promotions=sorted(mine, key=lambda p: p.id, reverse=True),
        lineage=graph,
        notice=notice,
        error=error,
        environments=[g[0] for g in gates],
    )


@router.get("/projects/{project}/models/{name}/{version}")
def version_page(
    request: Request,
    project: str,
    name: str,
    version: str,
    identity: Identity = requires("project.read"),
) -> Response:
    """A version: signature, source run, lineage, evaluations, gates, pending promotions."""
    done = DONE.get(request.query_params.get("done", ""), "")
    return _version_page(request, identity, project, name, version, notice=done)


@router.post("/projects/{project}/models/{name}/{version}/decide")
async def decide(
    request: Request,
    project: str,
    name: str,
    version: str,
    identity: Identity = requires("promotion.decide"),
) -> Response:
    """Approve or reject a pending promotion (the service says who may; a refusal is shown)."""
    form = await form_fields(request, "environment", "decision", "comment")
    backend = backend_of(request).with_actor(identity.name)
    found = _version(backend, project, name, version)
    try:
        backend.decide_promotion(
            project,
            f"{name}/{found.version}",
            form["environment"],
            form["decision"],
            form["comment"],
        )
    except PermissionDenied as exc:
        return _version_page(
            request, identity, project, name, version, status=403, error=exc.message
        )
    except RelayError as exc:
        return _version_page(
            request, identity, project, name, version, status=exc.http_status, error=exc.message
        )
    where = f"/projects/{quote(project)}/models/{quote(name)}/{found.version}"
    return RedirectResponse(f"{where}?done={form['decision']}", status_code=303)


@router.post("/projects/{project}/models/{name}/{version}/promote")
async def request_promotion(
    request: Request,
    project: str,
    name: str,
    version: str,
    identity: Identity = requires("promotion.request"),
) -> Response:
    """Ask to move this version into an environment (gates run; approvals may follow)."""
    form = await form_fields(request, "environment", "reason")
    backend = backend_of(request).with_actor(identity.name)
    found = _version(backend, project, name, version)
    try:
        promo = backend.promote(
            project, f"{name}/{found.version}", form["environment"], form["reason"]
        )
    except RelayError as exc:
        return _version_page(
            request, identity, project, name, version, status=exc.http_status, error=exc.message
        )
    if promo.status == "FAILED":
        failed = "; ".join(f"{g.name}: {g.detail}" for g in promo.gates if not g.passed)
        return _version_page(
            request,
            identity,
            project,
            name,
            version,
            status=422,
            error=f"the gates of {promo.environment} failed: {failed}",
        )
    where = f"/projects/{quote(project)}/models/{quote(name)}/{found.version}"
    return RedirectResponse(f"{where}?done=requested", status_code=303)
