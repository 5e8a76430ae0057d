"""The feature registry in the store: plan and apply definitions, read their versions.

A definition is (kind, name) in a project; applying a spec whose hash differs from the latest
version's makes the next version, the same spec changes nothing, and old versions stay
readable. References are checked at apply time: a feature set's entity, an on-demand set's
input features, found in the same apply or already stored.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from relayml.domain.clock import now_ms
from relayml.domain.features import (
    DEFINITION_KINDS,
    FeatureDefinition,
    FeaturePlan,
    FeatureSet,
    OnDemandFeatureSet,
    PlanItem,
    Spec,
    diff_specs,
    kind_of,
    parse_feature_ref,
    spec_hash,
    spec_model,
)
from relayml.domain.roles import ENVIRONMENTS
from relayml.errors import InvalidInput, NotFound
from relayml.governance import audit
from relayml.projects import project_id
from relayml.store import Store
from relayml.store.schema_features import feature_def_versions, feature_defs, feature_stages
from relayml.store.versioned import insert_numbered, latest_number, retry_on_race

__all__ = [
    "apply",
    "check_kind",
    "def_row",
    "definition",
    "get_definition",
    "list_definitions",
    "list_versions",
    "plan",
]

_NOUN = {"entity": "entity", "feature_set": "feature set", "on_demand": "on-demand feature set"}
_MAX_SPECS = 1_000


def check_kind(kind: str) -> str:
    """The kind, or InvalidInput naming the kinds."""
    if kind not in DEFINITION_KINDS:
        raise InvalidInput(
            f"unknown definition kind {kind!r}; kinds: {', '.join(DEFINITION_KINDS)}."
        )
    return kind


def def_row(conn: Connection, pid: int, project: str, kind: str, name: str) -> Any:
    """The definition's row, or NotFound suggesting the closest names of that kind."""
    row = conn.execute(
        select(feature_defs).where(
            feature_defs.c.project_id == pid,
            feature_defs.c.kind == check_kind(kind),
            feature_defs.c.name == name,
        )
    ).first()
    if row is None:
        names = _names(conn, pid, kind)
        close = difflib.get_close_matches(name, names, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(names[:20]) or "none yet"
        raise NotFound(
            f"{_NOUN[kind]} {name!r} does not exist in project {project!r} ({known}).{hint} "
            "Declare it in a module and run `relay features apply module.py`."
        )
    return row


def _names(conn: Connection, pid: int, kind: str) -> list[str]:
    rows = conn.execute(
        select(feature_defs.c.name)
        .where(feature_defs.c.project_id == pid, feature_defs.c.kind == kind)
        .order_by(feature_defs.c.name)
    )
    return [r[0] for r in rows]


def _environments(conn: Connection, def_id: int) -> dict[str, int]:
    rows = conn.execute(
        select(feature_stages.c.environment, feature_stages.c.version).where(
            feature_stages.c.def_id == def_id, feature_stages.c.ended_at.is_(None)
        )
    )
    found = {r.environment: int(r.version) for r in rows}
    return {env: found[env] for env in ENVIRONMENTS if env in found}


def definition(
    conn: Connection, project: str, row: Any, number: int | None = None
) -> FeatureDefinition:
    """The stored version `number` (None: the latest) of a definition row; NotFound."""
    latest = latest_number(
        conn, feature_def_versions.c.version, feature_def_versions.c.def_id == row.id
    )
    wanted = latest if number is None else number
    version = conn.execute(
        select(feature_def_versions).where(
            feature_def_versions.c.def_id == row.id, feature_def_versions.c.version == wanted
        )
    ).first()
    if version is None:
        raise NotFound(
            f"{_NOUN[row.kind]} {row.name!r} has no version {wanted} "
            f"(its versions go from 1 to {latest or 0})."
        )
    return FeatureDefinition(
        project=project,
        kind=row.kind,
        name=row.name,
        version=version.version,
        latest_version=latest or 0,
        spec=version.spec,
        spec_hash=version.spec_hash,
        environments=_environments(conn, row.id),
        created_by=version.created_by,
        created_at=audit.to_datetime(version.created_at),
    )


def _canonical(specs: Sequence[dict[str, Any]]) -> list[Spec]:
    from relayml.data.check_spec import parse_spec  # loads pyarrow: not at the CLI's start

    if not isinstance(specs, list | tuple) or len(specs) > _MAX_SPECS:
        raise InvalidInput(f"definitions must be a list of at most {_MAX_SPECS} specs.")
    declared: list[Spec] = []
    seen: set[tuple[str, str]] = set()
    for spec in specs:
        if not isinstance(spec, dict):
            raise InvalidInput(f"a definition must be a mapping, got {type(spec).__name__}.")
        kind = str(spec.get("kind", "entity"))
        model = spec_model(check_kind(kind), spec)
        if isinstance(model, FeatureSet) and model.checks:
            try:
                parse_spec({"checks": model.checks})
            except InvalidInput as exc:
                raise InvalidInput(f"feature set {model.name!r}: {exc.message}") from None
        ident = (kind, model.name)
        if ident in seen:
            raise InvalidInput(f"{_NOUN[kind]} {model.name!r} is declared twice; keep one.")
        seen.add(ident)
        declared.append(model)
    return declared


def _dump(model: Spec) -> dict[str, Any]:
    spec: dict[str, Any] = model.model_dump(mode="json")
    spec["kind"] = kind_of(model)
    return spec


def _stored_spec(conn: Connection, pid: int, kind: str, name: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(feature_defs).where(
            feature_defs.c.project_id == pid,
            feature_defs.c.kind == kind,
            feature_defs.c.name == name,
        )
    ).first()
    return None if row is None else definition(conn, "", row).spec


def _check_references(conn: Connection, pid: int, declared: list[Spec]) -> None:
    batch = {(kind_of(m), m.name): _dump(m) for m in declared}

    def spec_of(kind: str, name: str) -> dict[str, Any] | None:
        return batch.get((kind, name)) or _stored_spec(conn, pid, kind, name)

    for model in declared:
        if isinstance(model, FeatureSet) and spec_of("entity", model.entity) is None:
            raise InvalidInput(
                f"feature set {model.name!r} names entity {model.entity!r}, which is neither "
                "declared here nor stored; declare relay.features.Entity(...) in the module."
            )
        if isinstance(model, OnDemandFeatureSet):
            for text in model.inputs:
                ref = parse_feature_ref(text)
                spec = spec_of("feature_set", ref.feature_set)
                names = [f["name"] for f in (spec or {}).get("features", [])]
                if spec is None or (ref.version is None and ref.feature not in names):
                    raise InvalidInput(
                        f"on-demand feature set {model.name!r} reads {text!r}, which is not a "
                        "declared or stored feature; declare its feature set first."
                    )


def _plan(conn: Connection, project: str, pid: int, declared: list[Spec]) -> list[PlanItem]:
    _check_references(conn, pid, declared)
    items = []
    for model in declared:
        kind, spec = kind_of(model), _dump(model)
        row = conn.execute(
            select(feature_defs).where(
                feature_defs.c.project_id == pid,
                feature_defs.c.kind == kind,
                feature_defs.c.name == model.name,
            )
        ).first()
        if row is None:
            items.append(PlanItem(kind=kind, name=model.name, action="add", new_version=1))
            continue
        current = definition(conn, project, row)
        if current.spec_hash == spec_hash(spec):
            items.append(
                PlanItem(
                    kind=kind,
                    name=model.name,
                    action="unchanged",
                    version=current.version,
                    new_version=current.version,
                )
            )
        else:
            items.append(
                PlanItem(
                    kind=kind,
                    name=model.name,
                    action="change",
                    version=current.version,
                    new_version=current.version + 1,
                    changes=diff_specs(current.spec, spec),
                )
            )
    order = {kind: i for i, kind in enumerate(DEFINITION_KINDS)}
    return sorted(items, key=lambda item: (order[item.kind], item.name))


def plan(store: Store, project: str, specs: Sequence[dict[str, Any]]) -> FeaturePlan:
    """What applying these definitions would do, changing nothing."""
    declared = _canonical(specs)
    with store.read() as conn:
        items = _plan(conn, project, project_id(conn, project), declared)
    return FeaturePlan(project=project, applied=False, items=items)


def apply(store: Store, actor: str, project: str, specs: Sequence[dict[str, Any]]) -> FeaturePlan:
    """Store each changed definition as its next version, in one audited transaction."""
    declared = _canonical(specs)
    return retry_on_race(lambda: _apply(store, actor, project, declared))


def _apply(store: Store, actor: str, project: str, declared: list[Spec]) -> FeaturePlan:
    by_ident = {(kind_of(m), m.name): m for m in declared}
    with store.write() as conn:
        pid = project_id(conn, project)
        items = _plan(conn, project, pid, declared)
        for item in items:
            if item.action == "unchanged":
                continue
            spec = _dump(by_ident[(item.kind, item.name)])
            if item.action == "add":
                created = conn.execute(
                    feature_defs.insert().values(
                        project_id=pid, kind=item.kind, name=item.name, created_at=now_ms()
                    )
                )
                def_id = int(created.inserted_primary_key[0])  # type: ignore[index]
            else:
                def_id = int(def_row(conn, pid, project, item.kind, item.name).id)
            number = insert_numbered(
                conn,
                feature_def_versions.c.version,
                {"def_id": def_id},
                spec=spec,
                spec_hash=spec_hash(spec),
                created_by=actor,
                created_at=now_ms(),
            )
            audit.record(
                conn,
                actor=actor,
                action=f"features.{item.action}",
                entity_kind=item.kind,
                entity_id=f"{project}/{item.name}@{number}",
                after={"spec_hash": spec_hash(spec), "changes": item.changes[:50]},
            )
    return FeaturePlan(project=project, applied=True, items=items)


def get_definition(
    store: Store,
    project: str,
    kind: str,
    name: str,
    *,
    version: int | None = None,
    environment: str | None = None,
) -> FeatureDefinition:
    """A version of a definition: a number, the one in an environment, or the latest."""
    if version is not None and environment is not None:
        raise InvalidInput("name a version or an environment, not both.")
    if environment is not None and environment not in ENVIRONMENTS:
        raise InvalidInput(
            f"unknown environment {environment!r}; environments are {', '.join(ENVIRONMENTS)}."
        )
    with store.read() as conn:
        row = def_row(conn, project_id(conn, project), project, kind, name)
        if environment is not None:
            envs = _environments(conn, row.id)
            if environment not in envs:
                raise NotFound(
                    f"{_NOUN[kind]} {name!r} has no version in {environment}; promote one with "
                    f"`relay features promote {name} --to {environment}`."
                )
            version = envs[environment]
        return definition(conn, project, row, version)


def list_definitions(
    store: Store, project: str, kind: str | None = None
) -> list[FeatureDefinition]:
    """The latest version of every definition (of a kind), by kind and name."""
    with store.read() as conn:
        pid = project_id(conn, project)
        query = select(feature_defs).where(feature_defs.c.project_id == pid)
        if kind is not None:
            query = query.where(feature_defs.c.kind == check_kind(kind))
        rows = list(conn.execute(query.order_by(feature_defs.c.kind, feature_defs.c.name)))
        return [definition(conn, project, row) for row in rows]


def list_versions(store: Store, project: str, kind: str, name: str) -> list[FeatureDefinition]:
    """Every version of a definition, newest first."""
    with store.read() as conn:
        row = def_row(conn, project_id(conn, project), project, kind, name)
        numbers = conn.execute(
            select(feature_def_versions.c.version)
            .where(feature_def_versions.c.def_id == row.id)
            .order_by(feature_def_versions.c.version.desc())
        )
        return [definition(conn, project, row, n) for (n,) in list(numbers)]
