"""Use cases on projects and their KPIs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from relayml.domain.entities import KPI, Project
from relayml.domain.validation import check_name
from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.governance import audit
from relayml.store import Store, now_ms
from relayml.store.schema import kpis, project_members, projects

__all__ = ["create_project", "get_project", "list_projects", "project_id", "update_project"]


def _kpis_of(conn: Connection, pid: int) -> list[KPI]:
    rows = conn.execute(select(kpis).where(kpis.c.project_id == pid).order_by(kpis.c.id))
    return [
        KPI(
            name=r.name,
            unit=r.unit,
            direction=r.direction,
            target=r.target,
            description=r.description,
            definition=r.definition or {},
        )
        for r in rows
    ]


def _load(conn: Connection, name: str) -> Project:
    row = conn.execute(select(projects).where(projects.c.name == name)).first()
    if row is None:
        known = conn.execute(select(projects.c.name).order_by(projects.c.name).limit(20))
        names = ", ".join(r[0] for r in known) or "none yet"
        raise NotFound(
            f"project {name!r} does not exist (known projects: {names}). Create it with "
            f"`relay projects create {name}` or relay.init(project={name!r})."
        )
    return Project(
        id=row.id,
        name=row.name,
        description=row.description,
        business_question=row.business_question,
        owner=row.owner,
        created_at=audit.to_datetime(row.created_at),
        kpis=_kpis_of(conn, row.id),
    )


_SELECT_ID = select(projects.c.id).where(projects.c.name == bindparam("name"))
# Projects are never renamed or deleted, so their ids can be remembered per database.
_ids: dict[tuple[str, str], int] = {}


def project_id(conn: Connection, name: str) -> int:
    """The id of a project, or NotFound."""
    key = (str(conn.engine.url), name)
    cached = _ids.get(key)
    if cached is not None:
        return cached
    pid = conn.execute(_SELECT_ID, {"name": name}).scalar()
    if pid is None:
        _load(conn, name)  # raises the full NotFound message
    _ids[key] = int(pid)  # type: ignore[arg-type]
    return _ids[key]


def _check_kpis(items: Sequence[KPI | dict[str, Any]]) -> list[KPI]:
    result = []
    for item in items:
        try:
            kpi = item if isinstance(item, KPI) else KPI.model_validate(item)
        except ValueError as exc:
            raise InvalidInput(f"KPI {item!r} is not valid: {exc}") from exc
        check_name(kpi.name.replace(" ", "_"), "KPI")
        result.append(kpi)
    names = [k.name for k in result]
    if len(set(names)) != len(names):
        raise InvalidInput(f"KPI names must be unique within a project, got {names}.")
    return result


def _write_kpis(conn: Connection, pid: int, items: list[KPI]) -> None:
    conn.execute(delete(kpis).where(kpis.c.project_id == pid))
    if items:
        conn.execute(kpis.insert(), [{"project_id": pid, **k.model_dump()} for k in items])


def create_project(
    store: Store,
    actor: str,
    name: str,
    *,
    description: str = "",
    business_question: str = "",
    owner: str | None = None,
    kpis: Sequence[KPI | dict[str, Any]] = (),
) -> Project:
    """Create a project; Conflict if the name is taken. Its creator (``actor``) becomes its
    ``owner`` member, so whoever creates a project can work in it and hand out roles."""
    check_name(name, "project")
    items = _check_kpis(kpis)
    try:
        with store.write() as conn:
            result = conn.execute(
                projects.insert().values(
                    name=name,
                    description=description,
                    business_question=business_question,
                    owner=owner or actor,
                    created_at=now_ms(),
                )
            )
            pid = int(result.inserted_primary_key[0])  # type: ignore[index]
            _write_kpis(conn, pid, items)
            conn.execute(
                project_members.insert().values(
                    project_id=pid, user=actor, role="owner", added_at=now_ms()
                )
            )
            project = _load(conn, name)
            audit.record(
                conn,
                actor=actor,
                action="project.create",
                entity_kind="project",
                entity_id=name,
                after=project.model_dump(mode="json"),
            )
            return project
    except IntegrityError as exc:
        raise Conflict(
            f"project {name!r} already exists; pick another name or use it as it is."
        ) from exc


def get_project(store: Store, name: str) -> Project:
    """A project by name, or NotFound."""
    with store.read() as conn:
        return _load(conn, name)


def list_projects(store: Store) -> list[Project]:
    """Every project, by name."""
    with store.read() as conn:
        names = [r[0] for r in conn.execute(select(projects.c.name).order_by(projects.c.name))]
        return [_load(conn, n) for n in names]


def update_project(
    store: Store,
    actor: str,
    name: str,
    *,
    description: str | None = None,
    business_question: str | None = None,
    owner: str | None = None,
    kpis: Sequence[KPI | dict[str, Any]] | None = None,
) -> Project:
    """Change a project's description, question, owner or KPIs (None leaves a field as is)."""
    items = _check_kpis(kpis) if kpis is not None else None
    with store.write() as conn:
        before = _load(conn, name)
        changes = {
            k: v
            for k, v in {
                "description": description,
                "business_question": business_question,
                "owner": owner,
            }.items()
            if v is not None
        }
        if changes:
            conn.execute(update(projects).where(projects.c.id == before.id).values(**changes))
        if items is not None:
            _write_kpis(conn, before.id, items)
        after = _load(conn, name)
        audit.record(
            conn,
            actor=actor,
            action="project.update",
            entity_kind="project",
            entity_id=name,
            before=before.model_dump(mode="json"),
            after=after.model_dump(mode="json"),
        )
        return after
