"""Feedback: subject-matter experts flag predictions; data scientists review and resolve flags.

A flag names a prediction by its id (the server's answer carries it). A flag that gives the right
answer also records it as an outcome (source "feedback"), so performance monitoring counts it.
Predictions are found in the prediction log by id: the id starts with the time it was made, so
only that day's files are read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from relayml.domain.monitoring import FeedbackFlag, PredictionRecord
from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.governance import audit
from relayml.models.registry import get_version
from relayml.predictions import PredictionLogs
from relayml.predictions.ids import moment_of
from relayml.projects.service import project_id
from relayml.store import Store, now_ms
from relayml.store.schema_monitoring import feedback_flags

__all__ = ["find_prediction", "flag_prediction", "list_flags", "resolve_flag"]

KINDS = ("wrong", "unexpected")


def _plain(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def find_prediction(logs: PredictionLogs, project: str, prediction_id: str) -> PredictionRecord:
    """The logged prediction with this id (its live answer, with its shadows' answers), or
    NotFound saying why."""
    moment = moment_of(prediction_id)
    window = timedelta(seconds=1)
    table = logs.read("predictions", project, start=moment - window, end=moment + window)
    if table.num_rows:
        import pyarrow.compute as pc

        table = table.filter(pc.equal(table["prediction_id"], prediction_id))
    if not table.num_rows:
        raise NotFound(
            f"prediction {prediction_id} is not in project {project!r}'s prediction log (made "
            f"{moment:%Y-%m-%d %H:%M:%S} UTC); the server writes the log about every "
            f"{logs.options.flush_interval:g} s, and only when it runs with the log on."
        )
    rows = table.to_pylist()
    row = next((r for r in rows if r.get("mode") == "live"), rows[0])
    shadows = [_record(project, r) for r in rows if r is not row and r.get("mode") == "shadow"]
    return _record(project, row, sorted(shadows, key=lambda r: r.version))


def _record(
    project: str, row: dict[str, Any], shadows: list[PredictionRecord] | None = None
) -> PredictionRecord:
    inputs = {k[len("input.") :]: _plain(v) for k, v in row.items() if k.startswith("input.")}
    return PredictionRecord(
        prediction_id=row["prediction_id"],
        project=project,
        deployment=row["deployment"],
        model=row["model"],
        version=int(row["version"]),
        variant=row["variant"],
        mode=row["mode"],
        timestamp=datetime.fromtimestamp(row["timestamp"] / 1000, tz=UTC),
        inputs=inputs,
        prediction=_plain(row.get("prediction")),
        probabilities=row.get("probabilities"),
        score=_plain(row.get("score")),
        decision=_plain(row.get("decision")),
        shadows=shadows or [],
    )


def right_answer(model: str, task: str, classes: list[Any] | None, value: Any) -> Any:
    """A flag's right answer checked against what the model answers: one of a classifier's
    classes (given as text or a number, returned as the class itself), a number for a
    regression; InvalidInput naming what is allowed otherwise."""
    if classes:
        for known in classes:
            if (value == known and type(value) is not bool) or str(value) == str(known):
                return known
        shown = ", ".join(str(c) for c in classes)
        raise InvalidInput(
            f"{value!r} is not a class of {model}; its classes are {shown}. Give one of them "
            "with --correct, or flag without it."
        )
    if task == "regression" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise InvalidInput(
            f"{model} predicts a number; the right answer must be one, not {value!r}."
        )
    return value


def _to_flag(project: str, row: Any) -> FeedbackFlag:
    return FeedbackFlag(
        id=row.id,
        project=project,
        model=row.model,
        prediction_id=row.prediction_id,
        kind=row.kind,
        comment=row.comment,
        correct_value=row.correct_value,
        status=row.status,
        created_by=row.created_by,
        created_at=audit.to_datetime(row.created_at),
        resolved_by=row.resolved_by,
        resolved_at=audit.to_datetime(row.resolved_at),
        resolution=row.resolution,
    )


def flag_prediction(
    store: Store,
    actor: str,
    project: str,
    record: PredictionRecord,
    kind: str,
    comment: str = "",
    correct_value: Any = None,
) -> FeedbackFlag:
    """Store a flag on a logged prediction (with an audit entry)."""
    if kind not in KINDS:
        raise InvalidInput(f"a flag is {' or '.join(KINDS)}, not {kind!r}.")
    if correct_value is not None and not isinstance(correct_value, str | int | float | bool):
        raise InvalidInput("the right answer is a label or a number.")
    if correct_value is not None:
        signature = get_version(store, project, f"{record.model}/{record.version}").signature
        correct_value = right_answer(
            f"{record.model}/{record.version}", signature.task, signature.classes, correct_value
        )
    with store.write() as conn:
        pid = project_id(conn, project)
        inserted = conn.execute(
            feedback_flags.insert().values(
                project_id=pid,
                model=record.model,
                prediction_id=record.prediction_id,
                kind=kind,
                comment=comment,
                correct_value=correct_value,
                status="open",
                created_by=actor,
                created_at=now_ms(),
            )
        )
        flag_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
        audit.record(
            conn,
            actor=actor,
            action="feedback.flag",
            entity_kind="prediction",
            entity_id=f"{project}/{record.prediction_id}",
            after={"flag": flag_id, "kind": kind, "comment": comment, "correct": correct_value},
        )
        row = conn.execute(select(feedback_flags).where(feedback_flags.c.id == flag_id)).one()
        return _to_flag(project, row)


def list_flags(
    store: Store, project: str, model: str | None = None, status: str | None = "open"
) -> list[FeedbackFlag]:
    """Flags of a project (one model's, open ones by default), newest first."""
    if status not in (None, "open", "resolved"):
        raise InvalidInput(f"status is open or resolved, not {status!r}.")
    with store.read() as conn:
        pid = project_id(conn, project)
        query = select(feedback_flags).where(feedback_flags.c.project_id == pid)
        if model is not None:
            query = query.where(feedback_flags.c.model == model)
        if status is not None:
            query = query.where(feedback_flags.c.status == status)
        rows = conn.execute(query.order_by(feedback_flags.c.id.desc())).all()
        return [_to_flag(project, r) for r in rows]


def resolve_flag(
    store: Store, actor: str, project: str, flag_id: int, resolution: str
) -> FeedbackFlag:
    """Close a flag with what was done about it (with an audit entry)."""
    if not resolution.strip():
        raise InvalidInput("say how the flag was resolved, e.g. --note 'retrained on May data'.")
    with store.write() as conn:
        pid = project_id(conn, project)
        row = conn.execute(
            select(feedback_flags).where(
                feedback_flags.c.id == flag_id, feedback_flags.c.project_id == pid
            )
        ).first()
        if row is None:
            raise NotFound(f"flag {flag_id} does not exist in project {project!r}.")
        if row.status == "resolved":
            raise Conflict(f"flag {flag_id} was already resolved by {row.resolved_by}.")
        conn.execute(
            feedback_flags.update()
            .where(feedback_flags.c.id == flag_id)
            .values(
                status="resolved", resolved_by=actor, resolved_at=now_ms(), resolution=resolution
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="feedback.resolve",
            entity_kind="feedback_flag",
            entity_id=f"{project}/{flag_id}",
            before={"status": "open"},
            after={"status": "resolved", "resolution": resolution},
        )
        updated = conn.execute(select(feedback_flags).where(feedback_flags.c.id == flag_id)).one()
        return _to_flag(project, updated)
