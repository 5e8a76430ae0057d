"""MLflow's flat experiment namespace over relayml's projects and experiments.

An experiment created through the MLflow API lives in the project its ``relay.project`` tag
names, else in the MLflow project (RELAY_MLFLOW_PROJECT). Its MLflow name may hold any
characters; the relayml experiment gets a valid name made from it. Experiments made by relayml
itself show in MLflow as their name (in the MLflow project) or ``project/name`` (elsewhere).
MLflow's experiment id is relayml's, except the MLflow project's "Default", which is "0".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, select, update

from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.governance import audit
from relayml.projects import project_id
from relayml.store import Store, now_ms
from relayml.store.fast import FastStatement
from relayml.store.schema import experiments, projects
from relayml.store.schema_mlflow import mlflow_experiments
from relayml.tracking import experiments as experiment_service

__all__ = [
    "DEFAULT_NAME",
    "MlflowExperiment",
    "create",
    "find",
    "find_by_name",
    "list_all",
    "relay_name",
    "rename",
    "set_deleted",
    "set_tag",
]

DEFAULT_NAME = "Default"
_BAD = re.compile(r"[^A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class MlflowExperiment:
    """One experiment as MLflow sees it."""

    id: int
    mlflow_id: str
    project: str
    relay_name: str
    name: str
    artifact_location: str
    tags: dict[str, str] = field(default_factory=dict)
    created_at: int = 0
    updated_at: int = 0
    deleted: bool = False


def relay_name(name: str) -> str:
    """A valid relayml experiment name made from any MLflow name."""
    clean = _BAD.sub("-", name.strip()).strip("-._")[:190]
    return clean or "experiment"


def _query() -> Any:
    return select(
        experiments.c.id,
        experiments.c.name.label("relay_name"),
        experiments.c.created_at,
        experiments.c.deleted_at,
        projects.c.name.label("project"),
        mlflow_experiments.c.name.label("mlflow_name"),
        mlflow_experiments.c.artifact_location,
        mlflow_experiments.c.tags,
        mlflow_experiments.c.updated_at,
    ).select_from(
        experiments.join(projects, projects.c.id == experiments.c.project_id).outerjoin(
            mlflow_experiments, mlflow_experiments.c.experiment_id == experiments.c.id
        )
    )


class _Row(NamedTuple):
    """A row of ``_query()`` read on the driver's cursor (``_BY_ID``)."""

    id: int
    relay_name: str
    created_at: int
    deleted_at: int | None
    project: str
    mlflow_name: str | None
    artifact_location: str | None
    tags: Any
    updated_at: int | None


# The experiment with an id: every MLflow call naming an experiment (runs/create, search) asks.
_BY_ID = FastStatement(_query().where(experiments.c.id == bindparam("id")))


def _entity(row: Any, default_project: str) -> MlflowExperiment:
    project = str(row.project)
    name = row.mlflow_name
    if name is None:
        name = row.relay_name if project == default_project else f"{project}/{row.relay_name}"
    is_default = project == default_project and name == DEFAULT_NAME
    mlflow_id = "0" if is_default else str(row.id)
    location = row.artifact_location or f"mlflow-artifacts:/{mlflow_id}"
    return MlflowExperiment(
        id=int(row.id),
        mlflow_id=mlflow_id,
        project=project,
        relay_name=str(row.relay_name),
        name=str(name),
        artifact_location=location,
        tags=dict(row.tags or {}),
        created_at=int(row.created_at),
        updated_at=int(row.updated_at or row.created_at),
        deleted=row.deleted_at is not None,
    )


def list_all(
    store: Store, default_project: str, project_names: set[str] | None = None
) -> list[MlflowExperiment]:
    """Every experiment (of the given projects, if any), as MLflow sees it, by id."""
    query = _query().order_by(experiments.c.id)
    if project_names is not None:
        query = query.where(projects.c.name.in_(sorted(project_names)))
    with store.read() as conn:
        return [_entity(r, default_project) for r in conn.execute(query)]


def _missing(what: str) -> NotFound:
    return NotFound(
        f"no experiment {what}; list them with mlflow.search_experiments() "
        "or `relay experiments list`."
    )


def find(store: Store, default_project: str, mlflow_id: str) -> MlflowExperiment:
    """The experiment an MLflow id names ("0": the MLflow project's Default); NotFound."""
    if mlflow_id == "0":
        return find_by_name(store, default_project, DEFAULT_NAME)
    if not str(mlflow_id).isdigit():
        raise InvalidInput(f"experiment id {mlflow_id!r} is not a number.")
    number = int(mlflow_id)
    if number >= 2**31:  # past the id column's range (PostgreSQL's integer): no such experiment
        raise _missing(f"with id {mlflow_id}")
    with store.read() as conn:
        found = _BY_ID.first(conn, {"id": number})
    if found is None:
        raise _missing(f"with id {mlflow_id}")
    row = _Row(*found)
    if isinstance(row.tags, str | bytes):  # a JSON column as SQLite's driver gives it: text
        row = row._replace(tags=json.loads(row.tags))
    return _entity(row, default_project)


def find_by_name(store: Store, default_project: str, name: str) -> MlflowExperiment:
    """The experiment an MLflow name names (its own, or relayml's project/name); NotFound."""
    with store.read() as conn:
        row = conn.execute(_query().where(mlflow_experiments.c.name == name)).first()
        if row is None:
            project, _, short = name.rpartition("/")
            query = _query().where(
                projects.c.name == (project or default_project),
                experiments.c.name == short,
                mlflow_experiments.c.name.is_(None),
            )
            row = conn.execute(query).first()
    if row is None:
        raise _missing(f"named {name!r}")
    return _entity(row, default_project)


def _free_relay_name(conn: Connection, pid: int, name: str) -> str:
    taken = {
        r.name
        for r in conn.execute(
            select(experiments.c.name).where(
                experiments.c.project_id == pid, experiments.c.name.startswith(name)
            )
        )
    }
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def create(
    store: Store,
    actor: str,
    default_project: str,
    project: str,
    name: str,
    *,
    artifact_location: str = "",
    tags: dict[str, str] | None = None,
) -> MlflowExperiment:
    """Create an experiment under an MLflow name; Conflict if the name is taken; NotFound."""
    if not name or not name.strip():
        raise InvalidInput("an experiment needs a name.")
    if len(name) > 500:
        raise InvalidInput("an experiment name is at most 500 characters.")
    try:
        find_by_name(store, default_project, name)
    except NotFound:
        pass
    else:
        raise Conflict(f"an experiment named {name!r} already exists; pick another name.")
    with store.write() as conn:
        pid = project_id(conn, project)
        short = _free_relay_name(conn, pid, relay_name(name))
        eid = experiment_service.ensure_experiment(conn, actor, project, pid, short)
        conn.execute(
            mlflow_experiments.insert().values(
                experiment_id=eid,
                name=name,
                artifact_location=artifact_location,
                tags=dict(tags or {}),
                updated_at=now_ms(),
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="experiment.mlflow_create",
            entity_kind="experiment",
            entity_id=f"{project}/{short}",
            after={"mlflow_name": name, "tags": dict(tags or {})},
        )
    return find_by_name(store, default_project, name)


def _ensure_row(conn: Connection, exp: MlflowExperiment) -> None:
    found = conn.execute(
        select(mlflow_experiments.c.experiment_id).where(
            mlflow_experiments.c.experiment_id == exp.id
        )
    ).first()
    if found is None:
        conn.execute(
            mlflow_experiments.insert().values(
                experiment_id=exp.id,
                name=exp.name,
                artifact_location="",
                tags={},
                updated_at=now_ms(),
            )
        )


def rename(store: Store, actor: str, exp: MlflowExperiment, new_name: str) -> None:
    """Give an experiment a new MLflow name (and relayml name); Conflict if taken."""
    if not new_name or len(new_name) > 500:
        raise InvalidInput("the new experiment name must have 1 to 500 characters.")
    with store.write() as conn:
        taken = conn.execute(
            select(mlflow_experiments.c.experiment_id).where(mlflow_experiments.c.name == new_name)
        ).first()
        if taken is not None:
            raise Conflict(f"an experiment named {new_name!r} already exists; pick another name.")
        _ensure_row(conn, exp)
        pid = project_id(conn, exp.project)
        short = _free_relay_name(conn, pid, relay_name(new_name))
        conn.execute(update(experiments).where(experiments.c.id == exp.id).values(name=short))
        conn.execute(
            update(mlflow_experiments)
            .where(mlflow_experiments.c.experiment_id == exp.id)
            .values(name=new_name, updated_at=now_ms())
        )
        audit.record(
            conn,
            actor=actor,
            action="experiment.rename",
            entity_kind="experiment",
            entity_id=f"{exp.project}/{exp.relay_name}",
            before={"name": exp.relay_name, "mlflow_name": exp.name},
            after={"name": short, "mlflow_name": new_name},
        )


def set_tag(store: Store, actor: str, exp: MlflowExperiment, key: str, value: str | None) -> None:
    """Set (value) or delete (None) an experiment tag."""
    with store.write() as conn:
        _ensure_row(conn, exp)
        tags = dict(
            conn.execute(
                select(mlflow_experiments.c.tags).where(
                    mlflow_experiments.c.experiment_id == exp.id
                )
            ).scalar()
            or {}
        )
        before = tags.get(key)
        if value is None:
            if key not in tags:
                raise NotFound(f"experiment {exp.name!r} has no tag {key!r}.")
            tags.pop(key)
        else:
            tags[key] = value
        conn.execute(
            update(mlflow_experiments)
            .where(mlflow_experiments.c.experiment_id == exp.id)
            .values(tags=tags, updated_at=now_ms())
        )
        audit.record(
            conn,
            actor=actor,
            action="experiment.set_tag",
            entity_kind="experiment",
            entity_id=f"{exp.project}/{exp.relay_name}",
            before={key: before},
            after={key: value},
        )


def set_deleted(store: Store, actor: str, exp: MlflowExperiment, deleted: bool) -> None:
    """Delete or restore an experiment (with its runs), through relayml's use case."""
    if deleted:
        experiment_service.delete_experiment(store, actor, exp.project, exp.relay_name)
    else:
        experiment_service.restore_experiment(store, actor, exp.project, exp.relay_name)
