"""Who works on a project, in which role (roles gate approvals; governance adds tokens later)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from relayml.domain.models import ROLES
from relayml.domain.validation import check_name
from relayml.errors import InvalidInput, NotFound
from relayml.governance import audit
from relayml.projects.service import project_id
from relayml.store import Store, now_ms
from relayml.store.schema import project_members

__all__ = ["ROLES", "add_member", "list_members", "remove_member", "roles_of"]


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are {', '.join(ROLES)}.")
    return role


def add_member(store: Store, actor: str, project: str, user: str, role: str) -> None:
    """Give a user a role in a project (a user may hold several roles)."""
    check_name(user, "user")
    _check_role(role)
    with store.write() as conn:
        pid = project_id(conn, project)
        exists = conn.execute(
            select(project_members.c.user).where(
                project_members.c.project_id == pid,
                project_members.c.user == user,
                project_members.c.role == role,
            )
        ).first()
        if exists:
            return
        conn.execute(
            project_members.insert().values(project_id=pid, user=user, role=role, added_at=now_ms())
        )
        audit.record(
            conn,
            actor=actor,
            action="project.add_member",
            entity_kind="project",
            entity_id=project,
            after={"user": user, "role": role},
        )


def remove_member(store: Store, actor: str, project: str, user: str, role: str) -> None:
    """Take a role away from a user in a project."""
    with store.write() as conn:
        pid = project_id(conn, project)
        result = conn.execute(
            delete(project_members).where(
                project_members.c.project_id == pid,
                project_members.c.user == user,
                project_members.c.role == role,
            )
        )
        if not result.rowcount:
            raise NotFound(f"{user!r} has no role {role!r} in project {project!r}.")
        audit.record(
            conn,
            actor=actor,
            action="project.remove_member",
            entity_kind="project",
            entity_id=project,
            before={"user": user, "role": role},
        )


def roles_of(conn: Connection, pid: int, user: str) -> set[str]:
    """The roles a user holds in a project."""
    query = select(project_members.c.role).where(
        project_members.c.project_id == pid, project_members.c.user == user
    )
    return {r[0] for r in conn.execute(query)}


def list_members(store: Store, project: str) -> dict[str, list[str]]:
    """Each member of a project with their roles."""
    with store.read() as conn:
        pid = project_id(conn, project)
        rows = conn.execute(
            select(project_members.c.user, project_members.c.role)
            .where(project_members.c.project_id == pid)
            .order_by(project_members.c.user, project_members.c.role)
        )
        members: dict[str, list[str]] = {}
        for user, role in rows:
            members.setdefault(user, []).append(role)
        return members
