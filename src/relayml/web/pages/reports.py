"""The risk manager's page: the model inventory, risk tiers, model risk reports, retirement.

``/reports`` lists every model ever in staging or production of the projects the viewer may
read; those allowed set a tier (with a reason), build a report (stored, fingerprinted, audited)
and retire a model. The stored reports are found through the audit log (``report.create``
entries carry the file's hash and fingerprint), so listing them reads a bounded page of it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import requires
from relayml.domain.entities import AuditQuery
from relayml.domain.identity import Identity
from relayml.domain.reports import REPORT_FORMATS, RISK_TIERS
from relayml.errors import InvalidInput, NotFound
from relayml.identity import access
from relayml.web.pages.common import form_fields, page_router
from relayml.web.render import SECURITY_HEADERS, backend_of, page

__all__ = ["router"]

router = page_router()
REPORTS_SHOWN = 25
MEDIA = {"html": "text/html", "md": "text/markdown", "pdf": "application/pdf"}
DONE = {
    "tier": "The risk tier is set.",
    "report": "The report is built and stored: download it below.",
    "retired": "The model is retired.",
}


def _no_project(_backend: Any, _params: dict[str, Any]) -> str | None:
    return None


def _visible(request: Request, identity: Identity) -> list[str]:
    backend = backend_of(request)
    visible = access.visible_projects(backend.store, identity)
    return [p.name for p in backend.list_projects() if visible is None or p.name in visible]


def _stored_reports(backend: Any, projects: set[str]) -> list[dict[str, Any]]:
    """The newest stored reports of these projects (a bounded page of the audit log)."""
    found: list[dict[str, Any]] = []
    before = None
    for _ in range(4):  # at most 4 pages of report entries: other projects' may come first
        entries = backend.list_audit(AuditQuery(kind="report.create", before=before, limit=100))
        for e in entries:
            project, _, rest = e.entity_id.partition("/")
            model, _, version = rest.rpartition("/")
            after = e.after or {}
            if project in projects and after.get("sha256"):
                found.append(
                    {"project": project, "model": model, "version": version, "at": e.at,
                     "actor": e.actor, **after}
                )  # fmt: skip
        if len(found) >= REPORTS_SHOWN or len(entries) < 100:
            break
        before = entries[-1].id
    return found[:REPORTS_SHOWN]


@router.get("/reports")
def reports_page(
    request: Request,
    done: str = "",
    identity: Identity = requires("project.read", project_of=_no_project),
) -> Response:
    """The inventory of the models the viewer may read, the tier form, the reports."""
    backend = backend_of(request)
    projects = _visible(request, identity)
    entries = backend.inventory(projects) if projects else []
    reports = _stored_reports(backend, set(projects))
    return page(
        request,
        "governance/reports.html",
        entries=entries,
        reports=reports,
        tiers=RISK_TIERS,
        formats=REPORT_FORMATS,
        notice=DONE.get(done, ""),
    )


@router.post("/reports/{project}/{model}/risk-tier")
async def set_tier(
    request: Request, project: str, model: str, identity: Identity = requires("risk.write")
) -> Response:
    """Set a model's risk tier with the reason (audited as the signed-in person)."""
    fields = await form_fields(request, "tier", "reason")
    if not fields["reason"].strip():
        raise InvalidInput("say why this tier: the reason is kept with the tier in the inventory.")
    backend = backend_of(request).with_actor(identity.name)
    await run_in_threadpool(
        backend.set_risk_tier, project, model, fields["tier"], fields["reason"].strip()
    )
    return RedirectResponse("/reports?done=tier", status_code=303)


@router.post("/reports/{project}/{model}/build")
async def build_report(
    request: Request, project: str, model: str, identity: Identity = requires("report.create")
) -> Response:
    """Build and store the model risk report of a version (default: the one in production)."""
    fields = await form_fields(request, "version", "format")
    text = fields["version"].strip()
    if text and not text.isdigit():
        raise InvalidInput(f"version must be a number, got {text!r}; leave it empty for the one "
                           "in production.")  # fmt: skip
    backend = backend_of(request).with_actor(identity.name)
    await run_in_threadpool(
        lambda: backend.build_model_report(
            project, model, version=int(text) if text else None, fmt=fields["format"] or "html"
        )
    )
    return RedirectResponse("/reports?done=report#stored", status_code=303)


@router.post("/reports/{project}/{model}/retire")
async def retire(
    request: Request, project: str, model: str, identity: Identity = requires("model.retire")
) -> Response:
    """Retire a model from every environment, with the reason (it stays in the inventory)."""
    fields = await form_fields(request, "reason")
    if not fields["reason"].strip():
        raise InvalidInput("say why the model is retired: the reason stays in the inventory.")
    backend = backend_of(request).with_actor(identity.name)
    await run_in_threadpool(backend.retire_model, project, model, fields["reason"].strip())
    return RedirectResponse("/reports?done=retired", status_code=303)


@router.get("/reports/{project}/{model}/{version}/{sha256}")
def download_report(
    request: Request,
    project: str,
    model: str,
    version: str,
    sha256: str,
    identity: Identity = requires("project.read"),
) -> Response:
    """A stored report's file, if the audit log says it is this model version's report."""
    backend = backend_of(request)
    entries = backend.list_audit(
        AuditQuery(kind="report.create", entity_id=f"{project}/{model}/{version}", limit=1000)
    )
    match = next((e.after for e in entries if (e.after or {}).get("sha256") == sha256), None)
    if match is None:
        raise NotFound(
            f"no stored report {sha256[:12]} of {project}/{model}/{version}; the reports are "
            "listed on /reports."
        )
    fmt = str(match.get("format", "html"))
    data = backend.blobs.get_bytes(sha256)
    name = quote(f"{model}-v{version}-risk-report.{fmt}")
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
        "X-Relay-Fingerprint": str(match.get("fingerprint", "")),
    }
    return Response(data, media_type=MEDIA.get(fmt, "application/octet-stream"), headers=headers)
