"""Use cases on experiments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from relayml.domain.entities import Experiment
from relayml.domain.validation import check_name
from relayml.errors import Conflict, NotFound
from relayml.governance import audit
from relayml.projects import project_id
from relayml.store import Store, now_ms
from relayml.store.fast import FastStatement, upsert_insert
from relayml.store.schema import experiments, projects

__all__ = [
    "create_experiment",
    "delete_experiment",
    "ensure_experiment",
    "get_experiment",
    "list_experiments",
    "restore_experiment",
]


def _row_to_experiment(row: object, project: str) -> Experiment:
    return Experiment(
        id=row.id,  # type: ignore[attr-defined]
        project=project,
        name=row.name,  # type: ignore[attr-defined]
        description=row.description,  # type: ignore[attr-defined]
        created_at=audit.to_datetime(row.created_at),  # type: ignore[attr-defined]
        deleted_at=audit.to_datetime(row.deleted_at),  # type: ignore[attr-defined]
    )


def deleted_message(project: str, name: str, doing: str) -> str:
    """Why nothing can be added to a deleted experiment, and how to bring it back."""
    return (
        f"cannot {doing}: experiment {name!r} of project {project!r} was deleted. Restore it "
        f"with `relay experiments restore {name} -p {project}` or use another experiment."
    )


def _find(conn: Connection, pid: int, name: str) -> object | None:
    query = select(experiments).where(experiments.c.project_id == pid, experiments.c.name == name)
    return conn.execute(query).first()


def _insert(conn: Connection, actor: str, project: str, pid: int, name: str, desc: str) -> int:
    result = conn.execute(
        experiments.insert().values(
            project_id=pid, name=name, description=desc, created_at=now_ms()
        )
    )
    eid = int(result.inserted_primary_key[0])  # type: ignore[index]
    _audit_create(conn, actor, project, name, eid, desc)
    return eid


def _audit_create(
    conn: Connection, actor: str, project: str, name: str, eid: int, desc: str
) -> None:
    audit.record(
        conn,
        actor=actor,
        action="experiment.create",
        entity_kind="experiment",
        entity_id=f"{project}/{name}",
        after={"id": eid, "project": project, "name": name, "description": desc},
    )


_FIND_ID = FastStatement(
    select(experiments.c.id, experiments.c.deleted_at).where(
        experiments.c.project_id == bindparam("pid"), experiments.c.name == bindparam("name")
    )
)


def ensure_experiment(conn: Connection, actor: str, project: str, pid: int, name: str) -> int:
    """The id of the named experiment, created (and audited) if new; Conflict if deleted."""
    found = _FIND_ID.first(conn, {"pid": pid, "name": name})  # every run start asks: prebuilt
    if found is not None:
        if found[1] is not None:
            raise Conflict(deleted_message(project, name, "start a run"))
        return int(found[0])
    row = _find(conn, pid, name)
    if row is None:
        check_name(name, "experiment")
        # Another writer may create it at the same moment (PostgreSQL does not serialise us):
        # insert if still absent, then read whichever row won.
        insert = upsert_insert(conn.dialect.name)
        inserted = conn.execute(
            insert(experiments)
            .values(project_id=pid, name=name, description="", created_at=now_ms())
            .on_conflict_do_nothing(index_elements=["project_id", "name"])
            .returning(experiments.c.id)
        ).first()
        row = _find(conn, pid, name)
        assert row is not None
        if inserted is not None:
            _audit_create(conn, actor, project, name, int(row.id), "")  # type: ignore[attr-defined]
    if row.deleted_at is not None:  # type: ignore[attr-defined]
        raise Conflict(deleted_message(project, name, "start a run"))
    return int(row.id)  # type: ignore[attr-defined]


def create_experiment(
    store: Store, actor: str, project: str, name: str, *, description: str = ""
) -> Experiment:
    """Create an experiment in a project; Conflict if the name is taken there."""
    check_name(name, "experiment")
    try:
        with store.write() as conn:
            pid = project_id(conn, project)
            _insert(conn, actor, project, pid, name, description)
            return _row_to_experiment(_find(conn, pid, name), project)
    except IntegrityError as exc:
        hint = ""
        if get_experiment(store, project, name).deleted_at is not None:
            hint = f" (deleted: bring it back with `relay experiments restore {name}`)"
        raise Conflict(f"experiment {name!r} already exists in project {project!r}{hint}.") from exc


def _require(conn: Connection, project: str, pid: int, name: str) -> Any:
    row = _find(conn, pid, name)
    if row is None:
        known = [e.name for e in _list(conn, project, pid)][:20]
        raise NotFound(
            f"experiment {name!r} does not exist in project {project!r} "
            f"(known: {', '.join(known) or 'none yet'})."
        )
    return row


def get_experiment(store: Store, project: str, name: str) -> Experiment:
    """An experiment by project and name (deleted or not), or NotFound."""
    with store.read() as conn:
        return _row_to_experiment(_require(conn, project, project_id(conn, project), name), project)


def _list(
    conn: Connection, project: str, pid: int, include_deleted: bool = False
) -> list[Experiment]:
    query = select(experiments).where(experiments.c.project_id == pid)
    if not include_deleted:
        query = query.where(experiments.c.deleted_at.is_(None))
    return [
        _row_to_experiment(r, project) for r in conn.execute(query.order_by(experiments.c.name))
    ]


def list_experiments(
    store: Store, project: str, *, include_deleted: bool = False
) -> list[Experiment]:
    """The experiments of a project by name: the deleted ones only if asked."""
    with store.read() as conn:
        return _list(conn, project, project_id(conn, project), include_deleted)


def _set_deleted(store: Store, actor: str, project: str, name: str, delete: bool) -> Experiment:
    with store.write() as conn:
        pid = project_id(conn, project)
        row = _require(conn, project, pid, name)
        was = row.deleted_at
        if delete and was is not None:
            raise Conflict(
                f"experiment {name!r} of project {project!r} is already deleted "
                f"(since {audit.to_datetime(was)}); `relay experiments restore {name}` "
                "brings it back."
            )
        if not delete and was is None:
            raise Conflict(f"experiment {name!r} of project {project!r} is not deleted.")
        at = now_ms() if delete else None
        conn.execute(update(experiments).where(experiments.c.id == row.id).values(deleted_at=at))
        audit.record(
            conn,
            actor=actor,
            action="experiment.delete" if delete else "experiment.restore",
            entity_kind="experiment",
            entity_id=f"{project}/{name}",
            before={"deleted_at": was},
            after={"deleted_at": at},
        )
        return _row_to_experiment(_find(conn, pid, name), project)


def delete_experiment(store: Store, actor: str, project: str, name: str) -> Experiment:
    """Hide an experiment and its runs (restorable; nothing new can start in it)."""
    return _set_deleted(store, actor, project, name, True)


def restore_experiment(store: Store, actor: str, project: str, name: str) -> Experiment:
    """Bring a deleted experiment (and its runs not deleted one by one) back."""
    return _set_deleted(store, actor, project, name, False)


def experiment_names(conn: Connection, ids: set[int]) -> dict[int, tuple[str, str]]:
    """Map experiment ids to (project name, experiment name)."""
    if not ids:
        return {}
    query = (
        select(experiments.c.id, projects.c.name, experiments.c.name)
        .join(projects, projects.c.id == experiments.c.project_id)
        .where(experiments.c.id.in_(ids))
    )
    return {int(r[0]): (r[1], r[2]) for r in conn.execute(query)}
