"""MLflow 3 logged models: a model's files and facts, before (or without) a registered version.

Their files are content-addressed blobs like run artifacts (table mlflow_files, owner = the
model's id); a registered version made from one copies the file list into relayml's registry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, update

from relayml.domain.validation import check_artifact_path
from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.governance import audit
from relayml.projects import project_id
from relayml.store import Store, now_ms
from relayml.store.schema import projects
from relayml.store.schema_mlflow import mlflow_files, mlflow_logged_models

__all__ = [
    "STATUSES",
    "LoggedModel",
    "create",
    "delete",
    "files_of",
    "get",
    "put_file",
    "remove_file",
    "search",
    "update_model",
]

STATUSES = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")


@dataclass(frozen=True)
class LoggedModel:
    """One logged model."""

    id: str
    project: str
    experiment_id: int
    run_id: str | None
    name: str
    status: str
    model_type: str
    source: str | None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created_by: str = ""
    created_at: int = 0
    updated_at: int = 0


def _query() -> Any:
    return select(mlflow_logged_models, projects.c.name.label("project")).join(
        projects, projects.c.id == mlflow_logged_models.c.project_id
    )


def _entity(row: Any) -> LoggedModel:
    return LoggedModel(
        id=row.id,
        project=row.project,
        experiment_id=row.experiment_id,
        run_id=row.run_id,
        name=row.name,
        status=row.status,
        model_type=row.model_type,
        source=row.source,
        params=dict(row.params or {}),
        tags=dict(row.tags or {}),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def create(
    store: Store,
    actor: str,
    project: str,
    experiment_id: int,
    name: str,
    *,
    run_id: str | None = None,
    model_type: str = "",
    source: str | None = None,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> LoggedModel:
    """Create a pending logged model in an experiment; NotFound (project), InvalidInput."""
    if not name or len(name) > 500:
        raise InvalidInput("a logged model needs a name of 1 to 500 characters.")
    model_id = f"m-{uuid.uuid4().hex}"
    now = now_ms()
    with store.write() as conn:
        conn.execute(
            mlflow_logged_models.insert().values(
                id=model_id,
                project_id=project_id(conn, project),
                experiment_id=experiment_id,
                run_id=run_id,
                name=name,
                status=STATUSES[0],
                model_type=model_type or "",
                source=source,
                params=dict(params or {}),
                tags=dict(tags or {}),
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="logged_model.create",
            entity_kind="logged_model",
            entity_id=model_id,
            after={"project": project, "name": name, "run_id": run_id},
        )
    return get(store, model_id)


def _row(conn: Connection, model_id: str) -> Any:
    row = conn.execute(
        _query().where(
            mlflow_logged_models.c.id == model_id, mlflow_logged_models.c.deleted_at.is_(None)
        )
    ).first()
    if row is None:
        raise NotFound(
            f"no logged model {model_id!r}; search them with mlflow.search_logged_models()."
        )
    return row


def get(store: Store, model_id: str) -> LoggedModel:
    """A logged model by id; NotFound."""
    with store.read() as conn:
        return _entity(_row(conn, model_id))


def search(
    store: Store, experiment_ids: list[int], *, limit: int = 100, offset: int = 0
) -> list[LoggedModel]:
    """Logged models of the experiments, newest first."""
    query = (
        _query()
        .where(
            mlflow_logged_models.c.experiment_id.in_(experiment_ids),
            mlflow_logged_models.c.deleted_at.is_(None),
        )
        .order_by(mlflow_logged_models.c.created_at.desc(), mlflow_logged_models.c.id)
        .limit(limit)
        .offset(offset)
    )
    with store.read() as conn:
        return [_entity(r) for r in conn.execute(query)]


def update_model(
    store: Store,
    actor: str,
    model_id: str,
    *,
    status: str | None = None,
    set_tags: dict[str, str] | None = None,
    delete_tag: str | None = None,
    params: dict[str, str] | None = None,
    run_id: str | None = None,
) -> LoggedModel:
    """Finalize a logged model, change its tags or params, link it to a run; NotFound."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"unknown logged model status {status!r}; use one of {STATUSES}.")
    with store.write() as conn:
        row = _row(conn, model_id)
        values: dict[str, Any] = {"updated_at": now_ms()}
        if status is not None:
            values["status"] = status
        if set_tags or delete_tag is not None:
            tags = dict(row.tags or {})
            tags.update(set_tags or {})
            if delete_tag is not None:
                if delete_tag not in tags:
                    raise NotFound(f"logged model {model_id} has no tag {delete_tag!r}.")
                tags.pop(delete_tag)
            values["tags"] = tags
        if params:
            merged = dict(row.params or {})
            for key, value in params.items():
                if key in merged and merged[key] != value:
                    raise Conflict(f"param {key!r} of logged model {model_id} is already set.")
                merged[key] = value
            values["params"] = merged
        if run_id is not None and row.run_id is None:
            values["run_id"] = run_id
        conn.execute(
            update(mlflow_logged_models)
            .where(mlflow_logged_models.c.id == model_id)
            .values(**values)
        )
        audit.record(
            conn,
            actor=actor,
            action="logged_model.update",
            entity_kind="logged_model",
            entity_id=model_id,
            after={k: v for k, v in values.items() if k != "updated_at"},
        )
    return get(store, model_id)


def delete(store: Store, actor: str, model_id: str) -> None:
    """Hide a logged model; NotFound."""
    with store.write() as conn:
        _row(conn, model_id)
        conn.execute(
            update(mlflow_logged_models)
            .where(mlflow_logged_models.c.id == model_id)
            .values(deleted_at=now_ms())
        )
        audit.record(
            conn,
            actor=actor,
            action="logged_model.delete",
            entity_kind="logged_model",
            entity_id=model_id,
        )


def put_file(store: Store, actor: str, model_id: str, path: str, sha256: str, size: int) -> None:
    """Attach a stored blob to a logged model at a path (replacing what was there)."""
    path = check_artifact_path(path)
    with store.write() as conn:
        _row(conn, model_id)
        conn.execute(
            mlflow_files.delete().where(
                mlflow_files.c.owner == model_id, mlflow_files.c.path == path
            )
        )
        conn.execute(
            mlflow_files.insert().values(
                owner=model_id, path=path, sha256=sha256, size=size, created_at=now_ms()
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="logged_model.put_file",
            entity_kind="logged_model",
            entity_id=model_id,
            after={"path": path, "sha256": sha256, "size": size},
        )


def remove_file(store: Store, actor: str, model_id: str, path: str) -> None:
    """Remove a file (or a folder of files) from a logged model; NotFound."""
    with store.write() as conn:
        gone = conn.execute(
            mlflow_files.delete().where(
                mlflow_files.c.owner == model_id,
                (mlflow_files.c.path == path)
                | mlflow_files.c.path.startswith(path.rstrip("/") + "/", autoescape=True),
            )
        ).rowcount
        if not gone:
            raise NotFound(f"logged model {model_id} has no file {path!r}.")
        audit.record(
            conn,
            actor=actor,
            action="logged_model.remove_file",
            entity_kind="logged_model",
            entity_id=model_id,
            before={"path": path},
        )


def files_of(store: Store, model_id: str) -> list[tuple[str, str, int]]:
    """(path, sha256, size) of a logged model's files, by path."""
    query = (
        select(mlflow_files.c.path, mlflow_files.c.sha256, mlflow_files.c.size)
        .where(mlflow_files.c.owner == model_id)
        .order_by(mlflow_files.c.path)
    )
    with store.read() as conn:
        return [(r.path, r.sha256, r.size) for r in conn.execute(query)]
