"""Use cases on experiments."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from relayml.domain.entities import Experiment
from relayml.domain.validation import check_name
from relayml.errors import Conflict, NotFound
from relayml.governance import audit
from relayml.projects import project_id
from relayml.store import Store, now_ms
from relayml.store.fast import upsert_insert
from relayml.store.schema import experiments, projects

__all__ = [
    "create_experiment",
    "ensure_experiment",
    "get_experiment",
    "list_experiments",
]


def _row_to_experiment(row: object, project: str) -> Experiment:
    return Experiment(
        id=row.id,  # type: ignore[attr-defined]
        project=project,
        name=row.name,  # type: ignore[attr-defined]
        description=row.description,  # type: ignore[attr-defined]
        created_at=audit.to_datetime(row.created_at),  # type: ignore[attr-defined]
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
    audit.record(
        conn,
        actor=actor,
        action="experiment.create",
        entity_kind="experiment",
        entity_id=f"{project}/{name}",
        after={"id": eid, "project": project, "name": name, "description": desc},
    )
    return eid


# Experiments are never renamed or deleted: ids seen committed can be remembered per database.
_ids: dict[tuple[str, int, str], int] = {}


def ensure_experiment(conn: Connection, actor: str, project: str, pid: int, name: str) -> int:
    """The id of the named experiment, created (and audited) if it does not exist yet."""
    key = (str(conn.engine.url), pid, name)
    cached = _ids.get(key)
    if cached is not None:
        return cached
    check_name(name, "experiment")
    row = _find(conn, pid, name)
    if row is not None:
        _ids[key] = int(row.id)  # type: ignore[attr-defined]
        return _ids[key]
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
    eid = int(row.id)  # type: ignore[attr-defined]
    if inserted is not None:
        audit.record(
            conn,
            actor=actor,
            action="experiment.create",
            entity_kind="experiment",
            entity_id=f"{project}/{name}",
            after={"id": eid, "project": project, "name": name, "description": ""},
        )
    return eid


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
        raise Conflict(f"experiment {name!r} already exists in project {project!r}.") from exc


def get_experiment(store: Store, project: str, name: str) -> Experiment:
    """An experiment by project and name, or NotFound."""
    with store.read() as conn:
        pid = project_id(conn, project)
        row = _find(conn, pid, name)
        if row is None:
            known = [e.name for e in _list(conn, project, pid)][:20]
            raise NotFound(
                f"experiment {name!r} does not exist in project {project!r} "
                f"(known: {', '.join(known) or 'none yet'})."
            )
        return _row_to_experiment(row, project)


def _list(conn: Connection, project: str, pid: int) -> list[Experiment]:
    query = select(experiments).where(experiments.c.project_id == pid).order_by(experiments.c.name)
    return [_row_to_experiment(r, project) for r in conn.execute(query)]


def list_experiments(store: Store, project: str) -> list[Experiment]:
    """Every experiment of a project, by name."""
    with store.read() as conn:
        return _list(conn, project, project_id(conn, project))


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
