"""Feature sets through environments (development → staging → production), checks as gates.

A version enters an environment when its feature set declares no checks, or when the newest
check report of that version passed; production also needs the version to have been in
staging. The checks themselves run where the data is (:mod:`relayml.features.people`) and
their outcomes are stored here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from relayml.domain.clock import now_ms
from relayml.domain.data import CheckOutcome
from relayml.domain.features import FeatureCheck, FeatureDefinition
from relayml.domain.roles import ENVIRONMENTS
from relayml.errors import GateFailed, InvalidInput
from relayml.features.registry import def_row, definition
from relayml.governance import audit
from relayml.projects import project_id
from relayml.store import Store
from relayml.store.schema_features import feature_checks, feature_stages

__all__ = ["list_checks", "promote", "record_check"]


def _check(name: str, row: Any) -> FeatureCheck:
    return FeatureCheck(
        id=row.id,
        name=name,
        version=row.version,
        passed=bool(row.passed),
        outcomes=[CheckOutcome.model_validate(o) for o in row.results],
        rows=row.rows,
        latest_event_time=(
            audit.to_datetime(row.latest_event_at) if row.latest_event_at is not None else None
        ),
        created_by=row.created_by,
        created_at=audit.to_datetime(row.created_at),
    )


def record_check(
    store: Store,
    actor: str,
    project: str,
    name: str,
    version: int,
    outcomes: Sequence[CheckOutcome],
    *,
    rows: int,
    latest_event_time: datetime | None,
) -> FeatureCheck:
    """Store a feature set version's check outcomes and its source's freshness."""
    results = [CheckOutcome.model_validate(o).model_dump(mode="json") for o in outcomes]
    if rows < 0:
        raise InvalidInput("rows must be 0 or more.")
    passed = all(o["passed"] for o in results)
    latest = None if latest_event_time is None else int(latest_event_time.timestamp() * 1000)
    with store.write() as conn:
        row = def_row(conn, project_id(conn, project), project, "feature_set", name)
        definition(conn, project, row, version)  # NotFound for a version it does not have
        created = conn.execute(
            feature_checks.insert().values(
                def_id=row.id,
                version=version,
                passed=int(passed),
                results=results,
                rows=rows,
                latest_event_at=latest,
                created_by=actor,
                created_at=now_ms(),
            )
        )
        check_id = int(created.inserted_primary_key[0])  # type: ignore[index]
        audit.record(
            conn,
            actor=actor,
            action="features.check",
            entity_kind="feature_set",
            entity_id=f"{project}/{name}@{version}",
            after={
                "check_id": check_id,
                "passed": passed,
                "failed": [o["name"] for o in results if not o["passed"]],
            },
        )
        stored = conn.execute(select(feature_checks).where(feature_checks.c.id == check_id)).one()
        return _check(name, stored)


def _checks(conn: Connection, def_id: int, version: int | None) -> list[Any]:
    query = select(feature_checks).where(feature_checks.c.def_id == def_id)
    if version is not None:
        query = query.where(feature_checks.c.version == version)
    return list(conn.execute(query.order_by(feature_checks.c.id.desc())))


def list_checks(
    store: Store, project: str, name: str, version: int | None = None
) -> list[FeatureCheck]:
    """A feature set's check reports (of one version), newest first."""
    with store.read() as conn:
        row = def_row(conn, project_id(conn, project), project, "feature_set", name)
        return [_check(name, r) for r in _checks(conn, row.id, version)]


def _gate(conn: Connection, row: Any, target: FeatureDefinition, environment: str) -> None:
    ref = f"{row.name}@{target.version}"
    if target.spec.get("checks"):
        reports = _checks(conn, row.id, target.version)
        if not reports:
            raise GateFailed(
                f"{ref} declares data checks but none has run on it; run "
                f"`relay features check {row.name}` first."
            )
        if not reports[0].passed:
            failed = [o["name"] for o in reports[0].results if not o["passed"]]
            raise GateFailed(
                f"{ref} cannot enter {environment}: its latest checks failed "
                f"({', '.join(failed)}); fix the source or the checks and run them again."
            )
    if environment == "production":
        was_staged = conn.execute(
            select(feature_stages.c.id).where(
                feature_stages.c.def_id == row.id,
                feature_stages.c.environment == "staging",
                feature_stages.c.version == target.version,
            )
        ).first()
        if was_staged is None:
            raise GateFailed(
                f"{ref} was never in staging; promote it there first "
                f"(`relay features promote {row.name} --to staging`)."
            )


def promote(
    store: Store,
    actor: str,
    project: str,
    name: str,
    environment: str,
    *,
    version: int | None = None,
    reason: str = "",
) -> FeatureDefinition:
    """Put a feature set version (None: the latest) into an environment, past its gates."""
    if environment not in ENVIRONMENTS:
        raise InvalidInput(
            f"unknown environment {environment!r}; environments are {', '.join(ENVIRONMENTS)}."
        )
    with store.write() as conn:
        row = def_row(conn, project_id(conn, project), project, "feature_set", name)
        target = definition(conn, project, row, version)
        current = target.environments.get(environment)
        if current == target.version:
            return target
        _gate(conn, row, target, environment)
        now = now_ms()
        conn.execute(
            update(feature_stages)
            .where(
                feature_stages.c.def_id == row.id,
                feature_stages.c.environment == environment,
                feature_stages.c.ended_at.is_(None),
            )
            .values(ended_at=now)
        )
        conn.execute(
            feature_stages.insert().values(
                def_id=row.id,
                environment=environment,
                version=target.version,
                reason=reason,
                assigned_by=actor,
                assigned_at=now,
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="features.promote",
            entity_kind="feature_set",
            entity_id=f"{project}/{name}@{target.version}",
            before={"environment": environment, "version": current},
            after={"environment": environment, "version": target.version, "reason": reason},
        )
        return definition(conn, project, row, target.version)
