"""Versioned decision tables of a model: set by subject-matter experts, applied by the server.

Each `apply` stores a new revision (with the YAML as written, who and when, and an audit entry);
the model server applies the newest one after the model and picks up a new one without restart.
The fields a table may use: the model's outputs `score` (P(positive class), binary classifiers)
and `prediction`, and the input columns of the model's newest version.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from relayml.domain.decisions import DecisionTable, parse_decision_table, validate_fields
from relayml.domain.models import Signature
from relayml.domain.monitoring import DecisionTableInfo
from relayml.errors import NotFound
from relayml.governance import audit
from relayml.models.registry import model_row, version_row
from relayml.projects.service import project_id
from relayml.store import Store
from relayml.store.schema_monitoring import decision_tables
from relayml.store.versioned import insert_revision

__all__ = ["decision_fields", "get_decision_table", "set_decision_table"]


def decision_fields(signature: Signature) -> dict[str, str]:
    """The fields a decision table may use with a model of this signature, and their dtypes."""
    fields = {spec.name: spec.dtype for spec in signature.inputs}
    output = signature.outputs[0].dtype if signature.outputs else "string"
    fields["prediction"] = output
    if signature.has_proba and len(signature.classes or []) == 2:
        fields["score"] = "float64"
    return fields


def _info(project: str, model: str, row: Any) -> DecisionTableInfo:
    return DecisionTableInfo(
        project=project,
        model=model,
        revision=row.revision,
        document=row.document,
        source=row.source,
        created_by=row.created_by,
        created_at=audit.to_datetime(row.created_at),
    )


def set_decision_table(
    store: Store, actor: str, project: str, model: str, source: str
) -> DecisionTableInfo:
    """Check a decision table against the model's fields and store it as a new revision."""
    table = parse_decision_table(source)
    with store.write() as conn:
        pid = project_id(conn, project)
        mrow = model_row(conn, pid, project, model)
        latest = version_row(conn, project, pid, model)
        validate_fields(table, decision_fields(Signature.model_validate(latest.signature)))
        owner = {"model_id": mrow.id}
        revision = insert_revision(conn, decision_tables, owner, table.to_document(), source, actor)
        audit.record(
            conn,
            actor=actor,
            action="decisions.apply",
            entity_kind="model",
            entity_id=f"{project}/{model}",
            after={"revision": revision, "rules": [r.name for r in table.rules]},
        )
        row = conn.execute(
            select(decision_tables).where(
                decision_tables.c.model_id == mrow.id, decision_tables.c.revision == revision
            )
        ).one()
        return _info(project, model, row)


def get_decision_table(
    store: Store, project: str, model: str, revision: int | None = None
) -> DecisionTableInfo:
    """The newest decision table of a model (or one revision), or NotFound saying how to set one."""
    with store.read() as conn:
        pid = project_id(conn, project)
        mrow = model_row(conn, pid, project, model)
        query = select(decision_tables).where(decision_tables.c.model_id == mrow.id)
        if revision is not None:
            query = query.where(decision_tables.c.revision == revision)
        row = conn.execute(query.order_by(decision_tables.c.revision.desc()).limit(1)).first()
        if row is None:
            which = f"revision {revision} of its " if revision is not None else ""
            raise NotFound(
                f"{model!r} has no {which}decision table; apply one with "
                f"`relay decisions apply {model} decisions.yaml`."
            )
        return _info(project, model, row)


def table_of(info: DecisionTableInfo) -> DecisionTable:
    """The parsed table of a stored revision."""
    return DecisionTable.from_document(info.document)
