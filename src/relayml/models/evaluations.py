"""Evaluations of model versions: record one (audited), list them, find the latest.

The use cases over the evaluations table; the metrics themselves are computed by
:mod:`relayml.models.evaluation`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from relayml.domain.clock import now_ms
from relayml.domain.models import Evaluation, ModelRef, parse_model_ref
from relayml.errors import InvalidInput
from relayml.governance import audit
from relayml.models.registry import version_row
from relayml.projects import project_id
from relayml.store import Store
from relayml.store.schema import model_versions, registered_models
from relayml.store.schema_promotion import evaluations

__all__ = ["create_evaluation", "latest_evaluation", "list_evaluations"]


def _entity(row: Any, model: str, version: int) -> Evaluation:
    return Evaluation(
        id=row.id,
        model=model,
        version=version,
        dataset=row.dataset,
        target=row.target,
        task=row.task,
        rows=row.rows,
        metrics=row.metrics,
        segments=row.segments or {},
        kpis=row.kpis or {},
        details=row.details or {},
        created_by=row.created_by,
        created_at=audit.to_datetime(row.created_at),
    )


def create_evaluation(
    store: Store, actor: str, project: str, ref: str | ModelRef, result: dict[str, Any]
) -> Evaluation:
    """Store an evaluation result (from models.evaluation.evaluate_predictions) for a version."""
    parsed = ref if isinstance(ref, ModelRef) else parse_model_ref(ref)
    missing = {"dataset", "target", "task", "rows", "metrics"} - set(result)
    if missing:
        raise InvalidInput(f"an evaluation needs {', '.join(sorted(missing))}.")
    if result["task"] not in ("classification", "regression"):
        raise InvalidInput("an evaluation's task is 'classification' or 'regression'.")
    with store.write() as conn:
        row = version_row(conn, project, project_id(conn, project), parsed)
        inserted = conn.execute(
            evaluations.insert().values(
                version_id=row.id,
                dataset=str(result["dataset"]),
                target=str(result["target"]),
                task=result["task"],
                rows=int(result["rows"]),
                metrics=result["metrics"],
                segments=result.get("segments", {}),
                kpis=result.get("kpis", {}),
                details=result.get("details", {}),
                created_by=actor,
                created_at=now_ms(),
            )
        )
        eid = int(inserted.inserted_primary_key[0])  # type: ignore[index]
        audit.record(
            conn,
            actor=actor,
            action="model.evaluate",
            entity_kind="model_version",
            entity_id=f"{project}/{parsed.name}/{row.version}",
            after={"evaluation": eid, "dataset": result["dataset"], "metrics": result["metrics"]},
        )
        stored = conn.execute(select(evaluations).where(evaluations.c.id == eid)).one()
        return _entity(stored, parsed.name, row.version)


def latest_evaluation(
    conn: Connection, version_id: int, model: str, version: int, dataset: str | None = None
) -> Evaluation | None:
    """The newest evaluation of a version (on a dataset, when given)."""
    query = (
        select(evaluations)
        .where(evaluations.c.version_id == version_id)
        .order_by(evaluations.c.id.desc())
        .limit(1)
    )
    if dataset:
        query = query.where(evaluations.c.dataset == dataset)
    row = conn.execute(query).first()
    return None if row is None else _entity(row, model, version)


def list_evaluations(store: Store, project: str, ref: str | ModelRef) -> list[Evaluation]:
    """Every evaluation of a version, newest first."""
    parsed = ref if isinstance(ref, ModelRef) else parse_model_ref(ref)
    with store.read() as conn:
        row = version_row(conn, project, project_id(conn, project), parsed)
        rows = conn.execute(
            select(evaluations)
            .where(evaluations.c.version_id == row.id)
            .order_by(evaluations.c.id.desc())
        )
        return [_entity(r, parsed.name, row.version) for r in rows]


def version_of(conn: Connection, version_id: int) -> tuple[str, int]:
    """(model name, version number) of a version id."""
    row = conn.execute(
        select(registered_models.c.name, model_versions.c.version)
        .join(registered_models, registered_models.c.id == model_versions.c.model_id)
        .where(model_versions.c.id == version_id)
    ).one()
    return str(row[0]), int(row[1])
