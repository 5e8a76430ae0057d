"""Deny by default: may this identity take this action (in this project)?"""

from __future__ import annotations

from sqlalchemy import select

from relayml.domain.identity import Identity
from relayml.domain.permissions import (
    ACTIONS,
    ADMIN_ONLY,
    allowed,
    is_global,
    roles_allowed,
)
from relayml.errors import NotFound, PermissionDenied
from relayml.store import Store
from relayml.store.schema import project_members, projects

__all__ = ["all_roles", "check", "project_roles", "visible_projects"]


def project_roles(store: Store, user: str, project: str) -> set[str]:
    """The roles ``user`` holds in ``project`` (NotFound when there is no such project)."""
    with store.read() as conn:
        pid = conn.execute(select(projects.c.id).where(projects.c.name == project)).scalar()
        if pid is None:
            raise NotFound(f"no project {project!r}; `relay projects list` shows them.")
        rows = conn.execute(
            select(project_members.c.role).where(
                project_members.c.project_id == pid, project_members.c.user == user
            )
        )
        return {r[0] for r in rows}


def all_roles(store: Store, identity: Identity) -> set[str]:
    """Every role ``identity`` holds, in any project."""
    with store.read() as conn:
        rows = conn.execute(
            select(project_members.c.role).where(project_members.c.user == identity.name)
        )
        return {r[0] for r in rows}


def visible_projects(store: Store, identity: Identity) -> set[str] | None:
    """The projects ``identity`` holds a role in; None for an administrator (all of them)."""
    if identity.is_admin:
        return None
    with store.read() as conn:
        rows = conn.execute(
            select(projects.c.name)
            .join(project_members, project_members.c.project_id == projects.c.id)
            .where(project_members.c.user == identity.name)
        )
        return {r[0] for r in rows}


def check(store: Store, identity: Identity, action: str, project: str | None = None) -> None:
    """Raise PermissionDenied unless ``identity`` may take ``action`` (in ``project``)."""
    if identity.is_admin:
        return
    if is_global(action):
        if action == ADMIN_ONLY:
            raise PermissionDenied(f"{identity.name} is not an administrator; this needs one.")
        return  # public or any signed-in user
    # A route about no single project (the global audit log, content-addressed blobs) asks for
    # the action in any project the user holds a role in.
    roles = project_roles(store, identity.name, project) if project else all_roles(store, identity)
    if allowed(roles, action):
        return
    needed = ", ".join(roles_allowed(action)) or "admin"
    held = ", ".join(sorted(roles)) if roles else "no role"
    where = f"in project {project!r}" if project else "in any project"
    raise PermissionDenied(
        f"{identity.name} may not {ACTIONS[action]} {where}: that needs the role {needed}, and "
        f"{identity.name} has {held} there. A project owner can grant it with "
        f"`relay projects add-member {project or '<project>'} {identity.name} <role>`."
    )
