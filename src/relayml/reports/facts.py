"""What a model risk report says, gathered from the store as plain JSON-ready facts.

The renderers (html.py, markdown.py) only lay these facts out, and the report's fingerprint is
the sha256 of them: building again from the same store rows gives the same fingerprint.
Nothing here depends on the time of building (monitoring windows are whole UTC days).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from relayml.domain.models import ModelVersion
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput, NotFound, RelayError
from relayml.governance import audit
from relayml.predictions import PredictionLogs
from relayml.store import Store
from relayml.store.schema import audit_log, model_versions

__all__ = ["chain_status", "fingerprint", "gather", "pick_version", "version_numbers"]

MAX_WINDOWS = 90  # newest daily monitoring windows shown
MAX_CHANGES = 2_000  # newest audit entries in the change log (all: relay audit export)
DAY_MS = 86_400_000


def fingerprint(facts: dict[str, Any]) -> str:
    """sha256 of the facts in canonical JSON."""
    text = json.dumps(facts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def version_numbers(store: Store, project: str, model: str) -> list[int]:
    """The numbers of a model's versions, oldest first (one light query, not every version)."""
    from relayml.models.registry import model_row
    from relayml.projects import project_id

    with store.read() as conn:
        row = model_row(conn, project_id(conn, project), project, model)
        found = select(model_versions.c.version).where(model_versions.c.model_id == row.id)
        return sorted(int(n) for n in conn.execute(found).scalars())


def pick_version(
    backend: Backend, project: str, model: str, version: int | None, numbers: list[int]
) -> ModelVersion:
    """The version asked for; else the one in production now; else staging's; else the newest."""
    if version is not None:
        return backend.get_model_version(project, f"{model}/{version}")
    aliases = backend.get_model(project, model).aliases
    number = aliases.get("production") or aliases.get("staging")
    if number is None:
        if not numbers:
            raise NotFound(f"{model} has no version yet; log one with run.log_model(...).")
        number = numbers[-1]
    return backend.get_model_version(project, f"{model}/{number}")


def _fairness(segments: dict[str, dict[str, dict[str, float]]]) -> list[dict[str, Any]]:
    gaps = []
    for column, values in segments.items():
        metrics = sorted({m for v in values.values() for m in v} - {"rows"})
        for metric in metrics:
            known = {k: v[metric] for k, v in values.items() if metric in v}
            if len(known) < 2:
                continue
            worst, best = min(known, key=known.__getitem__), max(known, key=known.__getitem__)
            gaps.append(
                {
                    "by": column,
                    "metric": metric,
                    "gap": known[best] - known[worst],
                    "lowest": worst,
                    "highest": best,
                }
            )
    return gaps


def _data(backend: Backend, project: str, version: ModelVersion) -> list[dict[str, Any]]:
    found = []
    for ref in version.details.get("datasets") or []:
        name = ref.split("/", 1)[1] if "/" in ref else ref
        try:
            data = backend.get_dataset_version(project, name)
        except RelayError:
            found.append({"ref": name, "missing": True})
            continue
        checks = backend.list_data_checks(project, data.ref)
        found.append(
            {
                "ref": data.ref,
                "rows": data.rows,
                "columns": data.columns,
                "content_hash": data.content_hash,
                "source": data.source,
                "created_at": data.created_at,
                "profile": {
                    name: {k: v for k, v in column.items() if k != "histogram"}
                    for name, column in (data.profile.get("columns") or {}).items()
                },
                "checks": [
                    {
                        "id": c.id,
                        "passed": c.passed,
                        "at": c.created_at,
                        "by": c.created_by,
                        "failed": [o.name for o in c.outcomes if not o.passed],
                        "count": len(c.outcomes),
                    }
                    for c in checks
                ],
            }
        )
    return found


def _lineage(backend: Backend, project: str, version: ModelVersion) -> dict[str, Any]:
    key = f"{project}/{version.model}/{version.version}"
    try:
        graph = backend.lineage("model_version", key, depth=5, direction="upstream")
    except NotFound:
        return {"nodes": [], "edges": []}
    return {
        "nodes": [{"kind": n.kind, "key": n.key, "label": n.label} for n in graph.nodes],
        "edges": [e.model_dump() for e in graph.edges],
    }


def _recent(logs: PredictionLogs, project: str, model: str, env: str) -> datetime | None:
    """The first of the newest MAX_WINDOWS days with predictions (None: no predictions): the
    report reads only those, and reading the timestamps alone first is cheap."""
    import pyarrow.compute as pc

    from relayml.predictions.layout import deployment_key

    stamps = logs.read("predictions", project, deployment_key(model, env), columns=["timestamp"])
    if stamps.num_rows == 0:
        return None
    newest = int(pc.max(stamps.column("timestamp")).as_py())
    day = newest // DAY_MS - (MAX_WINDOWS - 1)
    return datetime.fromtimestamp(day * DAY_MS / 1000, tz=UTC)


def _monitoring(
    backend: Backend, logs: PredictionLogs, project: str, model: str, environments: list[str]
) -> dict[str, Any]:
    from relayml.monitoring.kpis import kpis_by_window
    from relayml.monitoring.windows import (
        WindowQuery,
        drift_by_window,
        live_rows,
        performance_by_window,
    )

    result: dict[str, Any] = {}
    for env in environments:
        entry: dict[str, Any] = {}
        try:
            since = _recent(logs, project, model, env)
            query = WindowQuery(project, model, env, "day", since=since)
            rows = live_rows(backend, logs, project, model, env, since)  # read once, used thrice
            entry["performance"] = [
                {"start": w.start, "predictions": w.predictions, "outcomes": w.outcomes,
                 "metrics": w.metrics, "estimated": w.estimated}
                for w in performance_by_window(backend, logs, query, rows)
            ]  # fmt: skip
        except (InvalidInput, NotFound) as exc:
            entry["note"] = exc.message
            result[env] = entry
            continue
        entry["kpis"] = [
            {"start": w.start, "outcomes": w.outcomes, "kpis": w.kpis}
            for w in kpis_by_window(backend, logs, query, rows)
        ]
        try:
            ref_name, windows = drift_by_window(backend, logs, query, frame=rows)
            entry["drift_reference"] = ref_name
            entry["drift"] = [
                {"start": w.start, "rows": w.rows, "share": w.report.share,
                 "drifted": list(w.report.drifted_columns)}
                for w in windows
            ]  # fmt: skip
        except (InvalidInput, NotFound) as exc:
            entry["drift_note"] = exc.message
        result[env] = entry
    return result


def _changes(store: Store, project: str, model: str) -> dict[str, Any]:
    """The audit entries about the model, its versions and deployments, and the project's
    policy: one query (entity kinds are indexed), the newest MAX_CHANGES of them."""
    prefix = f"{project}/{model}"
    like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
    c = audit_log.c
    about = select(c.id, c.at, c.actor, c.action, c.entity_id, c.after).where(
        or_(
            and_(
                c.entity_kind.in_(("model", "model_version", "deployment")),
                or_(c.entity_id == prefix, c.entity_id.like(like, escape="\\")),
                ~c.action.like("report.%"),
            ),
            and_(
                c.entity_kind == "project",
                c.entity_id == project,
                c.action == "project.set_policy",
            ),
        )
    )
    with store.read() as conn:
        total = conn.execute(select(func.count()).select_from(about.subquery())).scalar_one()
        rows = conn.execute(about.order_by(c.id.desc()).limit(MAX_CHANGES)).all()
    entries = [
        {"id": r.id, "at": audit.to_datetime(r.at), "actor": r.actor, "action": r.action,
         "entity": r.entity_id, "after": r.after}
        for r in reversed(rows)
    ]  # fmt: skip
    return {"entries": entries, "total": total}


def chain_status(backend: Backend) -> dict[str, Any]:
    """The audit chain verified now: its head, or the first broken entry. Not part of the
    fingerprint (the head moves with every change, the report's own audit entry included)."""
    try:
        checked = backend.verify_audit()
    except RelayError as exc:
        return {"verified": False, "note": f"audit chain: not verified ({exc.message})"}
    if not checked.ok:
        return {"verified": False, "note": f"audit chain BROKEN: {checked.message}"}
    head = (
        f"{checked.entries} entries, head entry {checked.head_entry_id}, hash {checked.head_hash}"
    )
    return {"verified": True, "note": head, "head_hash": checked.head_hash}


def gather(
    backend: Backend,
    logs: PredictionLogs,
    store: Store,
    project: str,
    model: str,
    version: int | None,
) -> dict[str, Any]:
    """Every fact of the report of one version of a model (default: the one in production)."""
    numbers = version_numbers(store, project, model)
    chosen = pick_version(backend, project, model, version, numbers)
    info = backend.get_project(project)
    registered = backend.get_model(project, model)
    history = backend.model_history(project, model)
    evaluations = backend.list_evaluations(project, chosen.ref)
    run = backend.get_run(chosen.run_id) if chosen.run_id else None
    environments = sorted({a.alias for a in history.aliases if a.alias != "development"})
    deployments = [d for d in backend.list_deployments(project) if d.model == model]
    flags = backend.list_flags(project, model, status=None)
    rule_names = {r.name for r in backend.list_alert_rules(project) if r.spec.get("model") == model}
    alerts = [
        a for a in backend.list_alert_events(project, active_only=False) if a.rule in rule_names
    ]
    try:
        importance: dict[str, Any] | None = backend.model_importance(project, chosen.ref)
    except RelayError as exc:
        importance = {"note": exc.message}
    facts: dict[str, Any] = {
        "project": info.model_dump(exclude={"id"}),
        "members": backend.list_members(project),
        "model": registered.model_dump(exclude={"id", "latest_version", "aliases"}),
        "version": chosen.model_dump(exclude={"id", "aliases", "files"}),
        "card": backend.get_model_card(project, chosen.ref).model_dump(),
        "files": [f.model_dump() for f in chosen.files],
        "versions": numbers,
        "run": None
        if run is None
        else {"id": run.id, "name": run.name, "user": run.user, "params": run.params,
              "metrics": run.metrics, "start_time": run.start_time, "system": run.system},
        "lineage": _lineage(backend, project, chosen),
        "data": _data(backend, project, chosen),
        "evaluations": [
            {**e.model_dump(exclude={"id", "details"}), "fairness": _fairness(e.segments)}
            for e in evaluations
        ],
        "promotions": [p.model_dump() for p in history.promotions],
        "timeline": [a.model_dump() for a in history.aliases],
        "deployments": [d.model_dump() for d in deployments],
        "monitoring": _monitoring(backend, logs, project, model, environments),
        "alerts": [a.model_dump() for a in alerts],
        "flags": [f.model_dump() for f in flags],
        "importance": importance,
        "policy": backend.get_policy(project).model_dump(exclude={"source"}),
    }  # fmt: skip
    facts["changes"] = _changes(store, project, model)
    return _plain(facts)  # type: ignore[no-any-return]
