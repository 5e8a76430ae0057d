"""The home page ("what needs my attention", per role held) and the projects."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from relayml.api.auth import requires
from relayml.domain.identity import Identity
from relayml.domain.permissions import SIGNED_IN
from relayml.identity import access
from relayml.web.attention import TITLES, sections_for
from relayml.web.pages.common import page_router
from relayml.web.render import backend_of, page

__all__ = ["router"]

router = page_router()


@router.get("/")
def home(request: Request, identity: Identity = requires(SIGNED_IN)) -> Response:
    """What needs the viewer's attention, project by project, for each role they hold."""
    backend = backend_of(request)
    store = backend.store
    visible = access.visible_projects(store, identity)
    boards = []
    for project in backend.list_projects():
        if visible is not None and project.name not in visible:
            continue
        roles = access.project_roles(store, identity.name, project.name)
        sections = sections_for(backend, identity, project.name, roles)
        boards.append({"project": project, "roles": sorted(roles), "sections": sections})
    return page(request, "home.html", boards=boards, role_titles=TITLES)


@router.get("/projects")
def projects_page(request: Request, identity: Identity = requires(SIGNED_IN)) -> Response:
    """The projects the viewer may read, with their business questions and KPIs."""
    backend = backend_of(request)
    visible = access.visible_projects(backend.store, identity)
    shown = [p for p in backend.list_projects() if visible is None or p.name in visible]
    return page(request, "projects.html", shown=shown)


@router.get("/projects/{project}")
def project_page(
    request: Request, project: str, identity: Identity = requires("project.read")
) -> Response:
    """A project: its business question, KPIs, members and the ways into each area."""
    backend = backend_of(request)
    found = backend.get_project(project)
    members = backend.list_members(project)
    return page(request, "project.html", project=project, found=found, members=members)
