"""The model registry: registered models, immutable versions, environments with full history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from relayml.artifacts import BlobStore
from relayml.domain.clock import now_ms
from relayml.domain.feature_inputs import feature_inputs_of
from relayml.domain.feature_refs import parse_feature_ref
from relayml.domain.lineage import LineageEdge, LineageNode
from relayml.domain.models import (
    ENVIRONMENTS,
    AliasEvent,
    ModelFile,
    ModelRef,
    ModelVersion,
    RegisteredModel,
    Signature,
    parse_model_ref,
)
from relayml.domain.validation import check_artifact_path, check_name
from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.governance import audit
from relayml.lineage import graph as lineage_graph
from relayml.projects import project_id
from relayml.store import Store
from relayml.store.schema import alias_history, model_versions, registered_models, runs
from relayml.store.versioned import Versioned, retry_on_race

__all__ = [
    "alias_events",
    "create_version",
    "current_aliases",
    "get_model",
    "get_version",
    "list_models",
    "list_versions",
    "model_row",
    "move_alias",
    "version_row",
]


_HINT = "Log one with run.log_model(model, name=...)."

# Registered models as named things with immutable numbered versions (churn/1, churn/2, ...).
MODELS = Versioned(parse_model_ref, registered_models, model_versions, "model_id", "model", _HINT)


def model_row(conn: Connection, pid: int, project: str, name: str) -> Any:
    """The registered model's row, or NotFound listing the project's models."""
    return MODELS.name_row(conn, pid, project, name)


def current_aliases(conn: Connection, model_id: int) -> dict[str, int]:
    """environment -> version for the environments a model's versions hold now."""
    rows = conn.execute(
        select(alias_history.c.alias, alias_history.c.version).where(
            alias_history.c.model_id == model_id, alias_history.c.ended_at.is_(None)
        )
    )
    return {alias: version for alias, version in rows}


def version_row(conn: Connection, project: str, pid: int, ref: str | ModelRef) -> Any:
    """The row of the version a reference names (a version, an environment, or the latest)."""
    parsed = MODELS.ref(ref)
    model = model_row(conn, pid, project, parsed.name)
    number = parsed.version
    if parsed.alias is not None:
        number = current_aliases(conn, model.id).get(parsed.alias)
        if number is None:
            raise NotFound(
                f"no version of {parsed.name!r} is in {parsed.alias} yet; promote one with "
                f"`relay models promote {parsed.name}/<version> --to {parsed.alias}`."
            )
    return MODELS.version_row(conn, model.id, parsed.name, number)


def _version(conn: Connection, project: str, model_name: str, row: Any) -> ModelVersion:
    aliases = current_aliases(conn, row.model_id)
    return ModelVersion(
        id=row.id,
        project=project,
        model=model_name,
        version=row.version,
        flavor=row.flavor,
        run_id=row.run_id,
        files=[ModelFile(**f) for f in row.files],
        signature=Signature.model_validate(row.signature),
        requirements=list(row.requirements),
        details=row.details or {},
        description=row.description,
        created_by=row.created_by,
        created_at=audit.to_datetime(row.created_at),
        aliases=sorted(a for a, v in aliases.items() if v == row.version),
    )


def _model(conn: Connection, project: str, row: Any) -> RegisteredModel:
    return RegisteredModel(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        owner=row.owner,
        tags=row.tags or {},
        created_at=audit.to_datetime(row.created_at),
        latest_version=MODELS.latest(conn, row.id),
        aliases=current_aliases(conn, row.id),
    )


def create_version(
    store: Store,
    blobs: BlobStore,
    actor: str,
    project: str,
    name: str,
    *,
    flavor: str,
    files: Sequence[ModelFile],
    signature: Signature,
    requirements: Sequence[str],
    details: dict[str, Any] | None = None,
    run_id: str | None = None,
    description: str = "",
) -> ModelVersion:
    """Register a new immutable version whose files are already in the blob store."""
    check_name(name, "model")
    if not files:
        raise InvalidInput("a model version needs at least one file.")
    if details and "card" in details:  # reserved: set (and audited) by relayml.reports.cards
        raise InvalidInput(
            "details['card'] is reserved for the version's model card; register the version "
            "without it, then `relay models card set NAME/VERSION --intended-use ...`."
        )
    for f in files:
        check_artifact_path(f.path)
        if not blobs.exists(f.sha256):
            raise InvalidInput(
                f"model file {f.path!r} (sha256 {f.sha256}) is not in the artifact store; "
                "upload the files before registering the version."
            )
    facts = {
        "flavor": flavor,
        "files": list(files),
        "signature": signature,
        "requirements": list(requirements),
        "details": details or {},
        "run_id": run_id,
        "description": description,
    }
    # two writers may race for the same version number
    return retry_on_race(lambda: _insert_version(store, actor, project, name, facts))


def _ensure_model(conn: Connection, actor: str, project: str, pid: int, name: str) -> int:
    row, model_id = MODELS.ensure_name(conn, pid, name, description="", owner=actor, tags={})
    if row is not None:
        return model_id
    audit.record(
        conn,
        actor=actor,
        action="model.create",
        entity_kind="model",
        entity_id=f"{project}/{name}",
        after={"name": name, "owner": actor},
    )
    return model_id


def _insert_version(
    store: Store, actor: str, project: str, name: str, facts: dict[str, Any]
) -> ModelVersion:
    with store.write() as conn:
        pid = project_id(conn, project)
        run_id = facts["run_id"]
        if run_id is not None:
            run = conn.execute(select(runs.c.project_id).where(runs.c.id == run_id)).first()
            if run is None or run.project_id != pid:
                raise NotFound(f"run {run_id!r} does not exist in project {project!r}.")
        model_id = _ensure_model(conn, actor, project, pid, name)
        number = MODELS.insert_version(
            conn,
            model_id,
            flavor=facts["flavor"],
            run_id=run_id,
            files=[f.model_dump() for f in facts["files"]],
            signature=facts["signature"].model_dump(mode="json"),
            requirements=facts["requirements"],
            details=facts["details"],
            description=facts["description"],
            created_by=actor,
            created_at=now_ms(),
        )
        _record_lineage(conn, project, name, number, run_id, facts["details"])
        row = version_row(conn, project, pid, ModelRef(name=name, version=number))
        audit.record(
            conn,
            actor=actor,
            action="model.create_version",
            entity_kind="model_version",
            entity_id=f"{project}/{name}/{number}",
            after={
                "flavor": facts["flavor"],
                "run_id": run_id,
                "files": {f.path: f.sha256 for f in facts["files"]},
            },
        )
        return _version(conn, project, name, row)


def _record_lineage(
    conn: Connection,
    project: str,
    name: str,
    number: int,
    run_id: str | None,
    details: dict[str, Any],
) -> None:
    key = f"{project}/{name}/{number}"
    nodes = [LineageNode(kind="model_version", key=key, label=f"{name}/{number}")]
    edges = []
    if run_id:
        edges.append(
            LineageEdge(
                src_kind="run",
                src_key=run_id,
                dst_kind="model_version",
                dst_key=key,
                relation="produced",
            )
        )
    for dataset in details.get("datasets") or []:
        source = dataset if "/" in dataset else f"{project}/{dataset}"
        edges.append(
            LineageEdge(
                src_kind="dataset_version",
                src_key=source,
                dst_kind="model_version",
                dst_key=key,
                relation="trained",
            )
        )
    online = feature_inputs_of(details)
    for ref in dict.fromkeys(online.columns.values() if online is not None else ()):
        parsed = parse_feature_ref(ref)
        plain = f"{parsed.feature_set}:{parsed.feature}"
        feature = f"{project}/{plain}"  # read online at serving time: the features' lineage
        nodes.append(LineageNode(kind="feature", key=feature, label=plain))
        edges.append(
            LineageEdge(
                src_kind="feature",
                src_key=feature,
                dst_kind="model_version",
                dst_key=key,
                relation="input_of",
            )
        )
    lineage_graph.record(conn, nodes, edges)


def get_version(store: Store, project: str, ref: str | ModelRef) -> ModelVersion:
    """The version a reference names: 'churn/3', 'churn@production' or 'churn' (latest)."""
    parsed = MODELS.ref(ref)
    with store.read() as conn:
        row = version_row(conn, project, project_id(conn, project), parsed)
        return _version(conn, project, parsed.name, row)


def list_versions(store: Store, project: str, name: str) -> list[ModelVersion]:
    """Every version of a model, newest first."""
    with store.read() as conn:
        model = model_row(conn, project_id(conn, project), project, name)
        rows = conn.execute(
            select(model_versions)
            .where(model_versions.c.model_id == model.id)
            .order_by(model_versions.c.version.desc())
        )
        return [_version(conn, project, name, r) for r in rows]


def get_model(store: Store, project: str, name: str) -> RegisteredModel:
    """A registered model with its latest version and current environments."""
    with store.read() as conn:
        return _model(conn, project, model_row(conn, project_id(conn, project), project, name))


def list_models(store: Store, project: str) -> list[RegisteredModel]:
    """Every registered model of a project, by name."""
    with store.read() as conn:
        pid = project_id(conn, project)
        rows = conn.execute(
            select(registered_models)
            .where(registered_models.c.project_id == pid)
            .order_by(registered_models.c.name)
        )
        return [_model(conn, project, r) for r in rows]


def move_alias(
    conn: Connection, actor: str, project: str, model: Any, alias: str, version: int, reason: str
) -> int | None:
    """Point an environment at a version inside the caller's transaction; returns the previous."""
    if alias not in ENVIRONMENTS:
        raise InvalidInput(f"unknown environment {alias!r}; use one of {', '.join(ENVIRONMENTS)}.")
    now = now_ms()
    previous = current_aliases(conn, model.id).get(alias)
    if previous == version:
        raise Conflict(f"{model.name}/{version} is already in {alias}.")
    conn.execute(
        update(alias_history)
        .where(
            alias_history.c.model_id == model.id,
            alias_history.c.alias == alias,
            alias_history.c.ended_at.is_(None),
        )
        .values(ended_at=now, ended_by=actor)
    )
    conn.execute(
        alias_history.insert().values(
            model_id=model.id,
            alias=alias,
            version=version,
            assigned_at=now,
            assigned_by=actor,
            reason=reason,
        )
    )
    audit.record(
        conn,
        actor=actor,
        action="model.move_alias",
        entity_kind="model",
        entity_id=f"{project}/{model.name}",
        before={"alias": alias, "version": previous},
        after={"alias": alias, "version": version, "reason": reason},
    )
    return previous


def alias_events(store: Store, project: str, name: str) -> list[AliasEvent]:
    """Which version held which environment from when to when, oldest first."""
    with store.read() as conn:
        model = model_row(conn, project_id(conn, project), project, name)
        rows = conn.execute(
            select(alias_history)
            .where(alias_history.c.model_id == model.id)
            .order_by(alias_history.c.id)
        )
        return [
            AliasEvent(
                model=name,
                alias=r.alias,
                version=r.version,
                assigned_at=audit.to_datetime(r.assigned_at),
                assigned_by=r.assigned_by,
                reason=r.reason,
                ended_at=audit.to_datetime(r.ended_at),
                ended_by=r.ended_by,
            )
            for r in rows
        ]
