"""MLflow's registry extras over relayml's registry: models without versions, tags, stages,
free-form aliases and where each version's files came from.

Versions themselves are relayml's (models.registry.create_version); aliases that name a relayml
environment (dev, staging, production) move through promotion, the others live here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update

from relayml.domain.models import ENVIRONMENTS
from relayml.domain.validation import check_name
from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.governance import audit
from relayml.models.registry import MODELS, model_row
from relayml.projects import project_id
from relayml.store import Store, now_ms
from relayml.store.schema import model_versions, projects, registered_models
from relayml.store.schema_mlflow import mlflow_aliases, mlflow_versions

__all__ = [
    "STAGES",
    "VersionExtras",
    "aliases_of",
    "create_model",
    "extras_of",
    "project_of_model",
    "record_version",
    "rename_model",
    "set_alias",
    "set_version_facts",
    "update_model",
]

STAGES = ("None", "Staging", "Production", "Archived")


@dataclass(frozen=True)
class VersionExtras:
    """What MLflow knows of a version beyond relayml's own row."""

    source: str = ""
    storage: str = ""
    logged_model_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    stage: str = "None"
    updated_at: int = 0


def project_of_model(store: Store, name: str, among: set[str] | None = None) -> str:
    """The project holding the registered model ``name``; NotFound, InvalidInput if several."""
    query = (
        select(projects.c.name)
        .join(registered_models, registered_models.c.project_id == projects.c.id)
        .where(registered_models.c.name == name)
    )
    with store.read() as conn:
        found = sorted(r[0] for r in conn.execute(query))
    if among is not None:
        found = [p for p in found if p in among]
    if not found:
        raise NotFound(
            f"registered model {name!r} does not exist; create it with "
            "mlflow.register_model() or log a model with registered_model_name=."
        )
    if len(found) > 1:
        raise InvalidInput(
            f"registered model {name!r} exists in several projects ({', '.join(found)}); "
            "the MLflow API needs one: rename one of them."
        )
    return str(found[0])


def create_model(
    store: Store,
    actor: str,
    project: str,
    name: str,
    *,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> None:
    """Create a registered model without versions; Conflict if it exists; InvalidInput."""
    check_name(name, "model")
    with store.write() as conn:
        pid = project_id(conn, project)
        row, _ = MODELS.ensure_name(
            conn, pid, name, description=description, owner=actor, tags=dict(tags or {})
        )
        if row is not None:
            raise Conflict(f"registered model {name!r} already exists in project {project!r}.")
        audit.record(
            conn,
            actor=actor,
            action="model.create",
            entity_kind="model",
            entity_id=f"{project}/{name}",
            after={"name": name, "owner": actor, "tags": dict(tags or {})},
        )


def update_model(
    store: Store,
    actor: str,
    project: str,
    name: str,
    *,
    description: str | None = None,
    set_tag: tuple[str, str] | None = None,
    delete_tag: str | None = None,
) -> None:
    """Change a registered model's description or one tag; NotFound."""
    with store.write() as conn:
        model = model_row(conn, project_id(conn, project), project, name)
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if set_tag is not None or delete_tag is not None:
            tags = dict(model.tags or {})
            if set_tag is not None:
                tags[set_tag[0]] = set_tag[1]
            if delete_tag is not None:
                if delete_tag not in tags:
                    raise NotFound(f"registered model {name!r} has no tag {delete_tag!r}.")
                tags.pop(delete_tag)
            values["tags"] = tags
        if not values:
            return
        conn.execute(
            update(registered_models).where(registered_models.c.id == model.id).values(**values)
        )
        audit.record(
            conn,
            actor=actor,
            action="model.update",
            entity_kind="model",
            entity_id=f"{project}/{name}",
            before={k: model._mapping[k] for k in values},
            after=values,
        )


def rename_model(store: Store, actor: str, project: str, name: str, new_name: str) -> None:
    """Rename a registered model; NotFound, Conflict if the new name is taken."""
    check_name(new_name, "model")
    with store.write() as conn:
        pid = project_id(conn, project)
        model = model_row(conn, pid, project, name)
        taken = conn.execute(
            select(registered_models.c.id).where(
                registered_models.c.project_id == pid, registered_models.c.name == new_name
            )
        ).first()
        if taken is not None:
            raise Conflict(f"registered model {new_name!r} already exists in {project!r}.")
        conn.execute(
            update(registered_models)
            .where(registered_models.c.id == model.id)
            .values(name=new_name)
        )
        audit.record(
            conn,
            actor=actor,
            action="model.rename",
            entity_kind="model",
            entity_id=f"{project}/{name}",
            before={"name": name},
            after={"name": new_name},
        )


def _version_id(conn: Any, project: str, name: str, version: int) -> tuple[int, int]:
    model = model_row(conn, project_id(conn, project), project, name)
    row = MODELS.version_row(conn, model.id, name, version)
    return int(model.id), int(row.id)


def record_version(
    store: Store,
    actor: str,
    project: str,
    name: str,
    version: int,
    *,
    source: str,
    storage: str,
    logged_model_id: str | None,
    tags: dict[str, str] | None = None,
) -> None:
    """Remember where a new version's files came from (after relayml registered it)."""
    with store.write() as conn:
        _, vid = _version_id(conn, project, name, version)
        conn.execute(
            mlflow_versions.insert().values(
                version_id=vid,
                source=source,
                storage=storage,
                logged_model_id=logged_model_id,
                tags=dict(tags or {}),
                stage="None",
                updated_at=now_ms(),
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="model.mlflow_source",
            entity_kind="model_version",
            entity_id=f"{project}/{name}/{version}",
            after={"source": source, "logged_model_id": logged_model_id},
        )


def extras_of(
    store: Store, project: str, name: str, version: int | None = None
) -> dict[int, VersionExtras]:
    """version -> what MLflow knows of it, for every version of a model (or only one)."""
    with store.read() as conn:
        model = model_row(conn, project_id(conn, project), project, name)
        query = (
            select(model_versions.c.version, mlflow_versions)
            .join(mlflow_versions, mlflow_versions.c.version_id == model_versions.c.id)
            .where(model_versions.c.model_id == model.id)
        )
        if version is not None:
            query = query.where(model_versions.c.version == version)
        return {
            int(r.version): VersionExtras(
                source=r.source,
                storage=r.storage,
                logged_model_id=r.logged_model_id,
                tags=dict(r.tags or {}),
                stage=r.stage,
                updated_at=int(r.updated_at),
            )
            for r in conn.execute(query)
        }


def set_version_facts(
    store: Store,
    actor: str,
    project: str,
    name: str,
    version: int,
    *,
    description: str | None = None,
    set_tag: tuple[str, str] | None = None,
    delete_tag: str | None = None,
    stage: str | None = None,
) -> None:
    """Change a version's description, one tag or its MLflow stage; NotFound, InvalidInput."""
    if stage is not None and stage not in STAGES:
        raise InvalidInput(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}.")
    with store.write() as conn:
        _, vid = _version_id(conn, project, name, version)
        row = conn.execute(
            select(mlflow_versions).where(mlflow_versions.c.version_id == vid)
        ).first()
        if row is None:
            conn.execute(
                mlflow_versions.insert().values(
                    version_id=vid,
                    source="",
                    storage="",
                    tags={},
                    stage="None",
                    updated_at=now_ms(),
                )
            )
            row = conn.execute(
                select(mlflow_versions).where(mlflow_versions.c.version_id == vid)
            ).first()
        assert row is not None
        values: dict[str, Any] = {"updated_at": now_ms()}
        tags = dict(row.tags or {})
        if set_tag is not None:
            tags[set_tag[0]] = set_tag[1]
            values["tags"] = tags
        if delete_tag is not None:
            if delete_tag not in tags:
                raise NotFound(f"{name}/{version} has no tag {delete_tag!r}.")
            tags.pop(delete_tag)
            values["tags"] = tags
        if stage is not None:
            values["stage"] = stage
        conn.execute(
            update(mlflow_versions).where(mlflow_versions.c.version_id == vid).values(**values)
        )
        if description is not None:
            conn.execute(
                update(model_versions)
                .where(model_versions.c.id == vid)
                .values(description=description)
            )
            values["description"] = description
        audit.record(
            conn,
            actor=actor,
            action="model.update_version",
            entity_kind="model_version",
            entity_id=f"{project}/{name}/{version}",
            after={k: v for k, v in values.items() if k != "updated_at"},
        )


def aliases_of(store: Store, project: str, name: str) -> dict[str, int]:
    """alias -> version for the MLflow aliases (not environments) of a model."""
    with store.read() as conn:
        model = model_row(conn, project_id(conn, project), project, name)
        rows = conn.execute(select(mlflow_aliases).where(mlflow_aliases.c.model_id == model.id))
        return {r.alias: int(r.version) for r in rows}


def set_alias(
    store: Store, actor: str, project: str, name: str, alias: str, version: int | None
) -> None:
    """Point an MLflow alias at a version, or delete it (None); NotFound, InvalidInput."""
    if alias in ENVIRONMENTS:
        raise InvalidInput(f"{alias!r} is an environment: move it by promotion.")
    if (
        not alias
        or len(alias) > 250
        or alias.lower() == "latest"
        or (alias[:1].lower() == "v" and alias[1:].isdigit())
    ):
        raise InvalidInput(f"alias {alias!r} is not allowed (empty, 'latest' or like 'v1').")
    with store.write() as conn:
        if version is not None:
            model_id, _ = _version_id(conn, project, name, version)
        else:
            model_id = int(model_row(conn, project_id(conn, project), project, name).id)
        before = conn.execute(
            select(mlflow_aliases.c.version).where(
                mlflow_aliases.c.model_id == model_id, mlflow_aliases.c.alias == alias
            )
        ).scalar()
        conn.execute(
            delete(mlflow_aliases).where(
                mlflow_aliases.c.model_id == model_id, mlflow_aliases.c.alias == alias
            )
        )
        if version is not None:
            conn.execute(
                mlflow_aliases.insert().values(
                    model_id=model_id, alias=alias, version=version, updated_at=now_ms()
                )
            )
        elif before is None:
            raise NotFound(f"registered model {name!r} has no alias {alias!r}.")
        audit.record(
            conn,
            actor=actor,
            action="model.set_alias",
            entity_kind="model",
            entity_id=f"{project}/{name}",
            before={"alias": alias, "version": before},
            after={"alias": alias, "version": version},
        )
