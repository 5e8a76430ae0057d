"""Use cases on pipeline runs, step runs and the step cache; each change writes the audit log.

Errors: NotFound for an unknown run id (or a prefix matching none), InvalidInput for a bad status
or an ambiguous prefix, Conflict when a run has already finished.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from relayml.domain.pipelines import PipelineRun, StepRun
from relayml.domain.validation import check_time_ms
from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.governance import audit
from relayml.projects import project_id
from relayml.store import Store, now_ms
from relayml.store.fast import FastStatement, upsert_insert
from relayml.store.schema import pipeline_runs, projects, step_cache, step_runs

__all__ = [
    "STEP_STATUSES",
    "create_pipeline_run",
    "finish_pipeline_run",
    "get_pipeline_run",
    "list_pipeline_runs",
    "lookup_cache",
    "record_step_run",
]

STEP_STATUSES = ("FINISHED", "FAILED", "CACHED", "SKIPPED")
RUN_END_STATUSES = ("FINISHED", "FAILED")
MAX_LOGS = 65 * 1024  # steps keep 64 KiB themselves (start and end); this is a backstop
MAX_ERROR = 20_000

_RUN_STATE = FastStatement(
    select(pipeline_runs.c.status).where(pipeline_runs.c.id == bindparam("run_id"))
)
_INSERT_STEP = FastStatement(step_runs.insert(), json_params=("outputs",))
_INSERT_STEP_RETURNING = FastStatement(
    step_runs.insert().returning(step_runs.c.id), json_params=("outputs",)
)
_SELECT_CACHE = FastStatement(
    select(step_cache.c.outputs, step_cache.c.step_run_id).where(
        step_cache.c.cache_key == bindparam("key")
    )
)


def _require_running(conn: Connection, run_id: str, doing: str) -> None:
    found = _RUN_STATE.first(conn, {"run_id": run_id})
    if found is None:
        raise NotFound(
            f"pipeline run {run_id!r} does not exist. Find ids with `relay pipelines list`."
        )
    if found[0] != "RUNNING":
        raise Conflict(f"cannot {doing}: pipeline run {run_id} has already ended ({found[0]}).")


def create_pipeline_run(
    store: Store,
    actor: str,
    project: str,
    pipeline: str,
    *,
    executor: str,
    params: Mapping[str, Any],
) -> PipelineRun:
    """Start recording a run of a pipeline (status RUNNING)."""
    if not pipeline or len(pipeline) > 250:
        raise InvalidInput(f"pipeline name {pipeline!r} must have 1 to 250 characters.")
    run_id = uuid.uuid4().hex
    at = now_ms()
    with store.write() as conn:
        pid = project_id(conn, project)
        conn.execute(
            pipeline_runs.insert().values(
                id=run_id,
                project_id=pid,
                pipeline=pipeline,
                status="RUNNING",
                executor=executor[:100],
                params=dict(params),
                started_at=at,
                created_by=actor,
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="pipeline_run.create",
            entity_kind="pipeline_run",
            entity_id=run_id,
            after={"project": project, "pipeline": pipeline, "executor": executor},
        )
    return get_pipeline_run(store, run_id)


def _upsert_cache(conn: Connection, row: dict[str, Any]) -> None:
    insert = upsert_insert(conn.dialect.name)
    statement = insert(step_cache).values(**row)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[step_cache.c.cache_key],
            set_={
                "step": statement.excluded.step,
                "outputs": statement.excluded.outputs,
                "step_run_id": statement.excluded.step_run_id,
                "created_at": statement.excluded.created_at,
            },
        )
    )


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return f"[... {len(text) - limit} characters dropped ...]\n" + text[-limit:]


def _bad(field: str, wanted: str, value: Any) -> InvalidInput:
    return InvalidInput(f"step record: {field} must be {wanted}, got {value!r:.200}.")


def _optional_number(record: Mapping[str, Any], field: str) -> float | None:
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(field, "a number or null", value)
    return float(value)


def _optional_text(record: Mapping[str, Any], field: str) -> str | None:
    value = record.get(field)
    if value is not None and not isinstance(value, str):
        raise _bad(field, "text or null", value)
    return value


def check_step_record(record: Any) -> dict[str, Any]:
    """A step-run record with every field checked and defaulted, or InvalidInput naming one."""
    if not isinstance(record, Mapping):
        raise _bad("the record", "an object", record)
    step = record.get("step")
    if not isinstance(step, str) or not step:
        raise _bad("step", "the step's name (text)", step)
    status = record.get("status")
    if not isinstance(status, str) or status not in STEP_STATUSES:
        raise InvalidInput(
            f"step record: step status {status!r:.100} is not one of {', '.join(STEP_STATUSES)}."
        )
    cache_key = record.get("cache_key") or ""
    if not isinstance(cache_key, str) or len(cache_key) > 64:
        raise _bad("cache_key", "text of at most 64 characters", cache_key)
    attempts = record.get("attempts") or 0
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 0 <= attempts < 2**31:
        raise _bad("attempts", "a count (0 or more)", attempts)
    if "started_at" not in record:
        raise _bad("started_at", "epoch milliseconds", "nothing")
    started_at = check_time_ms(record["started_at"], "step record: started_at")
    ended_at = record.get("ended_at")
    if ended_at is not None:
        ended_at = check_time_ms(ended_at, "step record: ended_at")
    outputs = record.get("outputs") or {}
    if not isinstance(outputs, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Mapping) for k, v in outputs.items()
    ):
        raise _bad("outputs", "an object of output name -> {sha256, kind, ...}", outputs)
    inputs = record.get("inputs") or []
    if not isinstance(inputs, list):
        raise _bad("inputs", "a list", inputs)
    return {
        "step": step,
        "status": status,
        "cache_key": cache_key,
        "attempts": attempts,
        "started_at": started_at,
        "ended_at": ended_at,
        "duration": _optional_number(record, "duration"),
        "cpu_time": _optional_number(record, "cpu_time"),
        "peak_memory_mb": _optional_number(record, "peak_memory_mb"),
        "logs": _optional_text(record, "logs") or "",
        "error": _optional_text(record, "error"),
        "outputs": {name: dict(out) for name, out in outputs.items()},
        "inputs": inputs,
    }


def record_step_run(
    store: Store,
    actor: str,
    run_id: str,
    record: Mapping[str, Any],
    *,
    cache: bool = False,
) -> int:
    """Store one step run as it ended; with cache=True (a FINISHED step) also its cache entry.

    record holds: step, status, cache_key, attempts, started_at and ended_at (epoch ms),
    duration, cpu_time, peak_memory_mb, logs, error, outputs (name -> {sha256, kind, ...}),
    and optionally inputs (for the audit entry). Returns the step run id.
    """
    record = check_step_record(record)
    status = record["status"]
    if cache and status != "FINISHED":
        raise InvalidInput(f"only a FINISHED step is cached, not a {status} one.")
    outputs = record["outputs"]
    row = {
        "pipeline_run_id": run_id,
        "step": record["step"][:250],
        "status": status,
        "cache_key": record["cache_key"],
        "attempts": record["attempts"],
        "started_at": record["started_at"],
        "ended_at": record["ended_at"],
        "duration": record["duration"],
        "cpu_time": record["cpu_time"],
        "peak_memory_mb": record["peak_memory_mb"],
        "logs": _clip(record["logs"], MAX_LOGS),
        "error": _clip(record["error"], MAX_ERROR),
        "outputs": outputs,
    }
    with store.write() as conn:
        _require_running(conn, run_id, f"record step {row['step']!r}")
        if conn.dialect.name == "sqlite":
            cursor = _INSERT_STEP.execute(conn, row)
            step_run_id = int(cursor.lastrowid)
            cursor.close()
        else:
            found = _INSERT_STEP_RETURNING.first(conn, row)
            assert found is not None
            step_run_id = int(found[0])
        if cache:
            reusable = {
                name: {k: v for k, v in out.items() if k != "pipeline_outputs"}
                for name, out in outputs.items()
            }
            _upsert_cache(
                conn,
                {
                    "cache_key": row["cache_key"],
                    "step": row["step"],
                    "outputs": reusable,
                    "step_run_id": step_run_id,
                    "created_at": now_ms(),
                },
            )
        audit.record(
            conn,
            actor=actor,
            action="step_run.record",
            entity_kind="step_run",
            entity_id=step_run_id,
            after={
                "pipeline_run": run_id,
                "step": row["step"],
                "status": status,
                "cache_key": row["cache_key"],
                "cached": cache,
                "inputs": record["inputs"],
                "outputs": {n: o.get("sha256") for n, o in outputs.items()},
            },
        )
    return step_run_id


def finish_pipeline_run(
    store: Store, actor: str, run_id: str, status: str, *, error: str | None = None
) -> PipelineRun:
    """End a pipeline run: FINISHED, or FAILED with the error."""
    if status not in RUN_END_STATUSES:
        raise InvalidInput(f"a pipeline run ends FINISHED or FAILED, not {status!r}.")
    with store.write() as conn:
        _require_running(conn, run_id, "finish it")
        conn.execute(
            update(pipeline_runs)
            .where(pipeline_runs.c.id == run_id)
            .values(status=status, error=_clip(error, MAX_ERROR), ended_at=now_ms())
        )
        audit.record(
            conn,
            actor=actor,
            action="pipeline_run.finish",
            entity_kind="pipeline_run",
            entity_id=run_id,
            before={"status": "RUNNING"},
            after={"status": status, "error": (error or "")[:500] or None},
        )
    return get_pipeline_run(store, run_id)


def lookup_cache(store: Store, cache_key: str) -> dict[str, Any] | None:
    """The cache entry of a key: {'outputs': ..., 'step_run_id': ...}, or None."""
    with store.read() as conn:
        found = _SELECT_CACHE.first(conn, {"key": cache_key})
    if found is None:
        return None
    outputs = found[0]
    if isinstance(outputs, str | bytes):  # the raw cursor returns JSON text on SQLite
        outputs = json.loads(outputs)
    return {"outputs": outputs, "step_run_id": int(found[1])}


def _steps_of(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[StepRun]]:
    result: dict[str, list[StepRun]] = {run_id: [] for run_id in run_ids}
    query = (
        select(step_runs).where(step_runs.c.pipeline_run_id.in_(run_ids)).order_by(step_runs.c.id)
    )
    for r in conn.execute(query):
        result[r.pipeline_run_id].append(
            StepRun(
                id=r.id,
                step=r.step,
                status=r.status,
                cache_key=r.cache_key,
                attempts=r.attempts,
                started_at=audit.to_datetime(r.started_at),
                ended_at=audit.to_datetime(r.ended_at),
                duration=r.duration,
                cpu_time=r.cpu_time,
                peak_memory_mb=r.peak_memory_mb,
                logs=r.logs or "",
                error=r.error,
                outputs=r.outputs or {},
            )
        )
    return result


def _load(conn: Connection, rows: Sequence[Any]) -> list[PipelineRun]:
    steps = _steps_of(conn, [r.id for r in rows])
    return [
        PipelineRun(
            id=r.id,
            project=r.project,
            pipeline=r.pipeline,
            status=r.status,
            executor=r.executor,
            params=r.params or {},
            error=r.error,
            started_at=audit.to_datetime(r.started_at),
            ended_at=audit.to_datetime(r.ended_at),
            created_by=r.created_by,
            steps=steps[r.id],
        )
        for r in rows
    ]


_SELECT_RUNS = select(pipeline_runs, projects.c.name.label("project")).join(
    projects, projects.c.id == pipeline_runs.c.project_id
)


def get_pipeline_run(store: Store, run_id: str) -> PipelineRun:
    """A pipeline run with its steps, by id or by a unique prefix of 6+ characters."""
    with store.read() as conn:
        rows = list(conn.execute(_SELECT_RUNS.where(pipeline_runs.c.id == run_id)))
        if not rows and 6 <= len(run_id) < 32 and all(c in "0123456789abcdef" for c in run_id):
            rows = list(
                conn.execute(_SELECT_RUNS.where(pipeline_runs.c.id.like(f"{run_id}%")).limit(2))
            )
            if len(rows) > 1:
                raise InvalidInput(
                    f"pipeline run id prefix {run_id!r} is ambiguous "
                    f"({rows[0].id}, {rows[1].id}, ...); type more characters."
                )
        if not rows:
            raise NotFound(
                f"pipeline run {run_id!r} does not exist. Find ids with `relay pipelines list`."
            )
        return _load(conn, rows)[0]


def list_pipeline_runs(
    store: Store, project: str, *, pipeline: str | None = None, limit: int = 50
) -> list[PipelineRun]:
    """A project's pipeline runs, newest first, with their steps."""
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, not {limit}.")
    with store.read() as conn:
        pid = project_id(conn, project)
        query = _SELECT_RUNS.where(pipeline_runs.c.project_id == pid)
        if pipeline:
            query = query.where(pipeline_runs.c.pipeline == pipeline)
        query = query.order_by(pipeline_runs.c.started_at.desc(), pipeline_runs.c.id).limit(limit)
        return _load(conn, list(conn.execute(query)))
