"""The resource overview: compute, storage and serving of a project, and its bottlenecks.

Compute is aggregated in SQL (runs' wall time, CPU time and peak memory; step runs' duration,
CPU time and peak memory). Storage sums recorded sizes (artifacts, model files) and stats the
dataset blobs; the logs are measured from their listings and Parquet footers. Serving reads only
the status and latency columns of the window's request log (or the predictions' latency).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from relayml.artifacts import BlobStore
from relayml.domain.resources import (
    Bottleneck,
    ComputeUse,
    ResourceOverview,
    ServingUse,
    StorageUse,
)
from relayml.errors import InvalidInput
from relayml.predictions import PredictionLogs
from relayml.projects import project_id
from relayml.store import Store
from relayml.store.schema import (
    artifacts,
    dataset_versions,
    datasets,
    model_versions,
    pipeline_runs,
    registered_models,
    runs,
    step_runs,
)

__all__ = ["TOP", "resource_overview"]

TOP = 5  # entries per ranked list


def _f(value: Any) -> float:
    return float(value or 0.0)


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def _compute(conn: Connection, pid: int) -> list[ComputeUse]:
    live = (runs.c.project_id == pid) & runs.c.deleted_at.is_(None)
    figures = (
        func.count(runs.c.id),  # one row per run: pairs below are distinct (model, run)
        func.sum(runs.c.wall_time),
        func.avg(runs.c.wall_time),
        func.max(runs.c.wall_time),
        func.sum(runs.c.cpu_time),
        func.max(runs.c.peak_memory_mb),
    )
    out: list[ComputeUse] = []
    total = conn.execute(select(*figures).where(live)).one()
    if total[0]:
        out.append(_use("project", "runs", total))
    # a run counts once per model it registered versions of
    pairs = (
        select(registered_models.c.name.label("model"), model_versions.c.run_id)
        .join(registered_models, registered_models.c.id == model_versions.c.model_id)
        .where(registered_models.c.project_id == pid, model_versions.c.run_id.is_not(None))
        .distinct()
        .subquery()
    )
    per_model = (
        select(pairs.c.model, *figures)
        .select_from(pairs.join(runs, runs.c.id == pairs.c.run_id))
        .where(live)
        .group_by(pairs.c.model)
        .order_by(pairs.c.model)
    )
    out += [_use("model", r[0], r[1:]) for r in conn.execute(per_model)]
    steps = (
        func.count(step_runs.c.id),
        func.sum(step_runs.c.duration),
        func.avg(step_runs.c.duration),
        func.max(step_runs.c.duration),
        func.sum(step_runs.c.cpu_time),
        func.max(step_runs.c.peak_memory_mb),
    )
    ran = (pipeline_runs.c.project_id == pid) & step_runs.c.duration.is_not(None)
    ran &= step_runs.c.status.in_(("FINISHED", "FAILED"))
    joined = step_runs.join(pipeline_runs, pipeline_runs.c.id == step_runs.c.pipeline_run_id)
    by_pipeline = (
        select(pipeline_runs.c.pipeline, *steps)
        .select_from(joined)
        .where(ran)
        .group_by(pipeline_runs.c.pipeline)
        .order_by(pipeline_runs.c.pipeline)
    )
    out += [_use("pipeline", r[0], r[1:]) for r in conn.execute(by_pipeline)]
    by_step = (
        select(pipeline_runs.c.pipeline, step_runs.c.step, *steps)
        .select_from(joined)
        .where(ran)
        .group_by(pipeline_runs.c.pipeline, step_runs.c.step)
        .order_by(pipeline_runs.c.pipeline, step_runs.c.step)
    )
    out += [_use("step", f"{r[0]}/{r[1]}", r[2:]) for r in conn.execute(by_step)]
    return out


def _use(kind: str, name: str, r: Any) -> ComputeUse:
    return ComputeUse(
        kind=kind,
        name=name,
        runs=int(r[0]),
        wall_seconds=_f(r[1]),
        mean_seconds=_opt(r[2]),
        longest_seconds=_opt(r[3]),
        cpu_seconds=_f(r[4]),
        peak_memory_mb=_opt(r[5]),
    )


def _storage(conn: Connection, pid: int, blobs: BlobStore) -> tuple[list[StorageUse], list[Any]]:
    of_project = artifacts.join(runs, runs.c.id == artifacts.c.run_id)
    count, size = conn.execute(
        select(func.count(), func.sum(artifacts.c.size))
        .select_from(of_project)
        .where(runs.c.project_id == pid)
    ).one()
    out: list[StorageUse] = []
    if count:
        out.append(StorageUse(kind="artifacts", name="runs", items=int(count), bytes=int(size)))
    largest: list[Any] = conn.execute(
        select(artifacts.c.run_id, artifacts.c.path, artifacts.c.size)
        .select_from(of_project)
        .where(runs.c.project_id == pid)
        .order_by(artifacts.c.size.desc(), artifacts.c.run_id, artifacts.c.path)
        .limit(TOP)
    ).all()  # type: ignore[assignment]
    models: dict[str, list[int]] = {}
    rows = conn.execute(
        select(registered_models.c.name, model_versions.c.files)
        .join(registered_models, registered_models.c.id == model_versions.c.model_id)
        .where(registered_models.c.project_id == pid)
    )
    for name, files in rows:
        held = models.setdefault(name, [0, 0])
        held[0] += 1
        held[1] += sum(int(f.get("size") or 0) for f in files or [])
    out += [
        StorageUse(kind="model", name=n, items=c, bytes=b) for n, (c, b) in sorted(models.items())
    ]
    sets: dict[str, list[int]] = {}
    rows = conn.execute(
        select(datasets.c.name, dataset_versions.c.sha256)
        .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
        .where(datasets.c.project_id == pid)
    )
    for name, sha in rows:
        held = sets.setdefault(name, [0, 0])
        held[0] += 1
        held[1] += _blob_size(blobs, sha)
    out += [
        StorageUse(kind="dataset", name=n, items=c, bytes=b) for n, (c, b) in sorted(sets.items())
    ]
    return out, largest


def _blob_size(blobs: BlobStore, sha256: str) -> int:
    """The stored blob's size (0 if it is missing: the overview reports, it does not repair)."""
    try:
        return int(blobs.fs.size(blobs.path_of(sha256)))
    except (FileNotFoundError, OSError, InvalidInput):
        return 0


def _percentiles(values: Any) -> tuple[float, float, float] | None:
    import numpy as np

    if len(values) == 0:
        return None
    p50, p95, p99 = np.percentile(np.asarray(values, dtype=float), [50, 95, 99])
    return float(p50), float(p95), float(p99)


def _window(
    logs: PredictionLogs,
    log: str,
    project: str,
    deployment: str,
    since: datetime,
    now: datetime,
    columns: list[str],
) -> Any:
    """Only these columns of the window's rows, or None when the log has not got them."""
    try:
        return logs.read(log, project, deployment, start=since, end=now, columns=columns)
    except InvalidInput:
        return None


def _serving(
    logs: PredictionLogs, project: str, since: datetime, now: datetime, days: int
) -> tuple[list[StorageUse], list[ServingUse]]:
    from relayml.predictions.usage import log_usage

    low = since.date().isoformat()
    storage: list[StorageUse] = []
    deployments: dict[str, dict[str, Any]] = {}
    for usage in log_usage(logs, project):
        label = f"{usage.log}/{usage.deployment}" if usage.deployment else usage.log
        storage.append(
            StorageUse(kind="prediction log", name=label, items=usage.files, bytes=usage.bytes)
        )
        if not usage.deployment:
            continue
        d = deployments.setdefault(
            usage.deployment, {"bytes": 0, "recent": 0, "rows": 0, "recent_rows": 0}
        )
        d["bytes"] += usage.bytes
        d["recent"] += sum(b for day, (b, _) in usage.by_day.items() if day >= low)
        if usage.log == "predictions":
            d["rows"] = usage.rows
            d["recent_rows"] = sum(r for day, (_, r) in usage.by_day.items() if day >= low)
    serving = []
    for deployment, d in sorted(deployments.items()):
        figures: dict[str, Any] = {"predictions_in_window": d["recent_rows"]}
        requests = _window(logs, "requests", project, deployment, since, now, ["status", "ms"])
        if requests is not None and requests.num_rows:
            status = requests.column("status").to_numpy(zero_copy_only=False)
            errors = int((status >= 400).sum())
            figures.update(
                requests=requests.num_rows,
                errors=errors,
                error_rate=errors / requests.num_rows,
                latency_source="requests",
            )
            found = _percentiles(requests.column("ms").to_numpy(zero_copy_only=False))
        else:
            rows = _window(logs, "predictions", project, deployment, since, now, ["latency_ms"])
            found = None
            if rows is not None and rows.num_rows:
                figures["latency_source"] = "predictions"
                found = _percentiles(rows.column("latency_ms").to_numpy(zero_copy_only=False))
        if found is not None:
            figures.update(p50_ms=found[0], p95_ms=found[1], p99_ms=found[2])
        serving.append(
            ServingUse(
                deployment=deployment,
                predictions=d["rows"],
                log_bytes=d["bytes"],
                log_bytes_per_day=d["recent"] / days,
                **figures,
            )
        )
    return storage, serving


def _ranked(kind: str, items: list[tuple[str, float, str]], unit: str) -> list[Bottleneck]:
    ordered = sorted(items, key=lambda item: (-item[1], item[0]))[:TOP]
    return [
        Bottleneck(kind=kind, rank=i, subject=s, value=v, unit=unit, detail=d)
        for i, (s, v, d) in enumerate(ordered, start=1)
    ]


def _bottlenecks(
    compute: list[ComputeUse], largest: list[Any], serving: list[ServingUse]
) -> list[Bottleneck]:
    steps = [
        (c.name, c.mean_seconds or 0.0, f"{c.runs} runs, longest {c.longest_seconds or 0:.1f} s")
        for c in compute
        if c.kind == "step"
    ]
    sizes = [(f"run {r.run_id}/{r.path}", float(r.size), "") for r in largest]
    latency = [
        (s.deployment, s.p99_ms, f"p50 {s.p50_ms:.1f} ms, p95 {s.p95_ms:.1f} ms")
        for s in serving
        if s.p99_ms is not None and s.p50_ms is not None and s.p95_ms is not None
    ]
    errors = [
        (s.deployment, s.error_rate, f"{s.errors} of {s.requests} requests")
        for s in serving
        if s.error_rate
    ]
    growth = [
        (s.deployment, s.log_bytes_per_day, f"{s.log_bytes} bytes in all")
        for s in serving
        if s.log_bytes_per_day
    ]
    return [
        *_ranked("slow step", steps, "s (mean)"),
        *_ranked("large artifact", sizes, "bytes"),
        *_ranked("high latency", latency, "ms (p99)"),
        *_ranked("error rate", errors, "share"),
        *_ranked("log growth", growth, "bytes/day"),
    ]


def resource_overview(
    store: Store,
    blobs: BlobStore,
    logs: PredictionLogs,
    project: str,
    *,
    days: int = 7,
    now: datetime | None = None,
) -> ResourceOverview:
    """What a project's runs, pipelines, storage and deployments use, with ranked bottlenecks."""
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 366:
        raise InvalidInput(f"days must be a whole number from 1 to 366, not {days!r}.")
    moment = now or datetime.now(UTC)
    since = moment - timedelta(days=days)
    with store.read() as conn:
        pid = project_id(conn, project)
        compute = _compute(conn, pid)
        storage, largest = _storage(conn, pid, blobs)
    log_storage, serving = _serving(logs, project, since, moment, days)
    return ResourceOverview(
        project=project,
        since=since,
        days=days,
        compute=compute,
        storage=storage + log_storage,
        serving=serving,
        bottlenecks=_bottlenecks(compute, largest, serving),
    )
