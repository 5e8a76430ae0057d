""" "What needs my attention": the home page's sections, one kind per role.

A section is a title, a few lines (each with a link) and a link to the whole list. Each role's
function reads a bounded amount (a page of runs, the open alerts, the pending approvals), so the
home page stays fast however large the store grows. Add a role's view by adding to SECTIONS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from relayml.data.datasets import recent_checks
from relayml.domain.identity import Identity
from relayml.errors import RelayError

__all__ = ["SECTIONS", "Line", "Section", "sections_for"]


@dataclass
class Line:
    """One thing to look at: its text, a link, and a tone (ok, warn, bad or none)."""

    text: str
    href: str = ""
    tone: str = ""
    detail: str = ""


@dataclass
class Section:
    """A role's box on the home page."""

    role: str
    title: str
    lines: list[Line] = field(default_factory=list)
    more: str = ""
    empty: str = "Nothing needs you here."


SectionMaker = Callable[[Any, str], Section]


def _alerts(backend: Any, project: str, role: str) -> Section:
    events = backend.list_alert_events(project, active_only=True)
    lines = [
        Line(
            f"{e.rule}: {e.message}",
            f"/projects/{project}/monitoring",
            "bad" if e.severity in ("critical", "error") else "warn",
            e.status,
        )
        for e in events[:8]
    ]
    return Section(role, "Open alerts", lines, f"/projects/{project}/monitoring", "No open alert.")


def _flags(backend: Any, project: str, role: str) -> Section:
    flags = backend.list_flags(project, status="open")
    lines = [
        Line(
            f"{f.model}: prediction {f.prediction_id} flagged {f.kind}",
            f"/projects/{project}/predictions/{f.prediction_id}",
            "warn",
            f.comment,
        )
        for f in flags[:8]
    ]
    return Section(role, f"Open flags ({len(flags)})", lines, f"/projects/{project}/feedback",
                   "No open flag.")  # fmt: skip


def _kpis(backend: Any, project: str, role: str) -> Section:
    from datetime import UTC, datetime, timedelta

    from relayml.monitoring.kpis import progress_text
    from relayml.monitoring.window_cache import WindowFigures
    from relayml.monitoring.windows import WindowQuery

    found = backend.get_project(project)
    lines: list[Line] = []
    since = datetime.now(UTC) - timedelta(days=1)
    for model, env in _served(backend, project)[:3]:  # the last day's figures, in their units
        try:  # the newest window only: the others are not shown (nor read)
            query = WindowQuery(project, model, env, "day", since)
            windows = WindowFigures(backend, backend.logs, query, keep=False).kpis(last_only=True)
        except RelayError:
            continue
        for name, figure in (windows[-1].kpis if windows else {}).items():
            met = figure.get("meets_target")
            lines.append(
                Line(
                    progress_text(name, figure),
                    f"/projects/{project}/monitoring?deployment={model}-{env}#kpis",
                    "ok" if met else ("warn" if met is False else ""),
                    f"{model} in {env}, today",
                )
            )
    if not lines:
        lines = [
            Line(
                k.name
                + (f" (target {k.target:,g} {k.unit})".rstrip() if k.target is not None else ""),
                f"/projects/{project}/monitoring",
                detail=k.description,
            )
            for k in found.kpis
        ]
    return Section(
        role,
        "KPIs against their targets",
        lines,
        f"/projects/{project}/monitoring",
        "No KPI set for this project.",
    )


def _served(backend: Any, project: str) -> list[tuple[str, str]]:
    """(model, environment) of each deployment, and of each alias served without a record."""
    from relayml.predictions.latest import deployments_in_log

    out = [(d.model, d.environment) for d in backend.list_deployments(project)]
    logged = deployments_in_log(backend.logs, project)
    for m in backend.list_models(project):
        out += [
            (m.name, env)
            for env in m.aliases
            if f"{m.name}-{env}" in logged and (m.name, env) not in out
        ]
    return out


def _runs(backend: Any, project: str, role: str) -> Section:
    page = backend.search_runs(project, max_results=6)  # newest first, by the index
    lines = [
        Line(
            f"{r.experiment} / {r.name}",
            f"/projects/{project}/runs/{r.id}",
            "bad" if r.status == "FAILED" else "",
            r.status,
        )
        for r in page.runs
    ]
    return Section(role, "Latest runs", lines, f"/projects/{project}/runs", "No run yet.")


def main_metric(backend: Any, project: str) -> tuple[str, bool] | None:
    """The metric the project's promotion policy gates on first, and whether higher is better."""
    document = backend.get_policy(project).document or {}
    for environment in (document.get("environments") or {}).values():
        for check in (environment or {}).get("checks") or []:
            if isinstance(check, dict) and isinstance(check.get("metric"), str):
                return check["metric"], "max" not in check or "min" in check
    return None


def _passes(value: Any) -> bool:
    """Whether a metric's value passes the filter `> -1e300` (NaN and None do not)."""
    return isinstance(value, int | float) and value > -1e300


def _best(backend: Any, project: str, field: str, metric: str, higher: bool) -> list[Any]:
    """The 5 best runs by a metric (those with a value above -1e300), best first.

    Ordered by the metric alone, the search walks the (key, value) index and then adds runs
    without the metric; filtered on the metric, it scans every run when fewer than 5 have it. So
    ask ordered and keep the runs whose value passes: that is the filtered answer when every run
    of the page passes or has no value at all (then every run with a value was on the page).
    Otherwise (a NaN or a value below -1e300 came first) ask filtered.
    """
    order = [f"{field} {'DESC' if higher else 'ASC'}"]
    page = backend.search_runs(project, order_by=order, max_results=5)
    kept = [r for r in page.runs if _passes(r.metrics.get(metric))]
    if all(r in kept or metric not in r.metrics for r in page.runs):
        return kept
    return list(
        backend.search_runs(project, filter=f"{field} > -1e300", order_by=order, max_results=5).runs
    )


def _best_runs(backend: Any, project: str, role: str) -> Section:
    found = main_metric(backend, project)
    if found is None:
        empty = "No main metric yet: the first metric the promotion policy checks is it."
        return Section(role, "Best runs", [], f"/projects/{project}/runs", empty)
    metric, higher = found
    field = f"metrics.{metric}" if re.fullmatch(r"[A-Za-z0-9_.\-/:]+", metric) else None
    if field is None:
        return Section(role, f"Best runs by {metric}", [], "", "That metric cannot be searched.")
    runs = _best(backend, project, field, metric, higher)
    lines = [
        Line(f"{r.name}: {metric} {r.metrics[metric]:.4g}", f"/projects/{project}/runs/{r.id}",
             detail=r.experiment)
        for r in runs
    ]  # fmt: skip
    query = urlencode({"order": field, "desc": "1" if higher else ""})
    return Section(role, f"Best runs by {metric}", lines, f"/projects/{project}/runs?{query}",
                   f"No run logged {metric}, the metric the promotion policy checks.")  # fmt: skip


def _failed_checks(backend: Any, project: str, role: str) -> Section:
    reports = recent_checks(backend.store, project, failed_only=True, limit=6)
    lines = [
        Line(
            f"{r.dataset}@{r.version}: "
            + ", ".join(o.name for o in r.outcomes if not o.passed)[:120],
            f"/projects/{project}/datasets/{r.dataset}?version={r.version}",
            "bad",
            f"{r.created_at:%Y-%m-%d %H:%M} by {r.created_by}",
        )
        for r in reports
    ]
    return Section(role, "Failed data checks", lines, f"/projects/{project}/datasets",
                   "No failed data check.")  # fmt: skip


def _datasets(backend: Any, project: str, role: str) -> Section:
    found = backend.list_datasets(project)
    lines = [
        Line(f"{d.name}@{d.latest_version}" if d.latest_version else d.name,
             f"/projects/{project}/datasets/{d.name}", detail=d.description)
        for d in found[:6]
    ]  # fmt: skip
    title = f"Datasets ({len(found)})"
    return Section(role, title, lines, f"/projects/{project}/datasets", "No dataset yet.")


def _approvals(backend: Any, project: str, role: str) -> Section:
    lines = []
    for model in backend.list_models(project):
        for promo in backend.model_history(project, model.name).promotions:
            if promo.status == "PENDING_APPROVAL":
                lines.append(
                    Line(
                        f"{promo.model}/{promo.version} to {promo.environment}",
                        f"/projects/{project}/models/{promo.model}/{promo.version}",
                        "warn",
                        "waiting for " + ", ".join(promo.waiting_for),
                    )
                )
    return Section(role, "Approvals waiting", lines, f"/projects/{project}/models",
                   "No approval waiting.")  # fmt: skip


def _reviews(backend: Any, project: str, role: str) -> Section:
    lines = [
        Line(
            f"{e.model}: review due {e.next_review_due:%Y-%m-%d}" if e.next_review_due else e.model,
            f"/projects/{project}/models/{e.model}",
            "bad" if e.review_overdue else "",
            f"tier {e.risk_tier or 'not set'}, {e.status}",
        )
        for e in backend.inventory([project])
    ]
    return Section(
        role, "Models in the inventory", lines, "/reports", "No model in production yet."
    )


def _deployments(backend: Any, project: str, role: str) -> Section:
    from relayml.predictions.health import request_health

    stored = {(d.model, d.environment): d for d in backend.list_deployments(project)}
    lines = []
    for model, env in _served(backend, project)[:8]:
        health = request_health(backend.logs, project, f"{model}-{env}", days=1)
        d = stored.get((model, env))
        shape = (
            ", ".join(f"v{v.version or 'alias'} {v.weight:g}%" for v in d.variants)
            if d
            else "alias, no record"
        )
        rate = health.error_rate
        lines.append(
            Line(
                f"{model} in {env}: {shape}",
                f"/projects/{project}/deployments/{model}/{env}",
                "bad"
                if rate and rate > 0.05
                else ("warn" if rate else ("ok" if health.requests else "")),
                f"last 24 h: {health.requests:,} requests, {health.errors:,} errors"
                + (f", p95 {health.p95_ms:,.0f} ms" if health.p95_ms is not None else ""),
            )
        )
    return Section(
        role,
        "Deployments and their health",
        lines,
        f"/projects/{project}/deployments",
        "Nothing deployed.",
    )


def _endpoints(backend: Any, project: str, role: str) -> Section:
    models = {m.name: m for m in backend.list_models(project)}
    lines = [
        Line(
            "This server's API contract (OpenAPI)",
            "/docs",
            detail="the model servers (relay serve MODEL@ENV) document theirs at /docs",
        )
    ]
    for model, env in _served(backend, project)[:8]:
        version = models[model].aliases.get(env) if model in models else None
        lines.append(
            Line(
                f"{model}@{env}: POST /predict, version {version or '?'}",
                f"/projects/{project}/models/{model}/{version}"
                if version
                else f"/projects/{project}/deployments/{model}/{env}",
                detail=f"relay serve {model}@{env} -p {project}; the link shows its signature",
            )
        )
    return Section(role, "Endpoints", lines, f"/projects/{project}/deployments")


def _experiments(backend: Any, project: str, role: str) -> Section:
    lines = [
        Line(
            f"{d.model} in {d.environment}: {d.strategy} "
            + ", ".join(f"v{v.version or 'alias'} {v.weight:g}% {v.mode}" for v in d.variants),
            f"/projects/{project}/deployments/{d.model}/{d.environment}",
            detail=f"since revision {d.revision}, {d.updated_at:%Y-%m-%d}",
        )
        for d in backend.list_deployments(project)
        if d.strategy in ("ab", "canary", "shadow")
    ]
    return Section(
        role,
        "A/B tests running",
        lines,
        f"/projects/{project}/deployments",
        "No A/B test, canary or shadow running.",
    )


def _pipelines(backend: Any, project: str, role: str) -> Section:
    runs = backend.list_pipeline_runs(project, limit=6)
    lines = [
        Line(
            f"{r.pipeline}: {r.status}",
            f"/projects/{project}/pipelines/{r.id}",
            "bad" if r.status == "FAILED" else "",
        )
        for r in runs
    ]
    return Section(role, "Pipeline runs", lines, f"/projects/{project}/pipelines",
                   "No pipeline run yet.")  # fmt: skip


def _audit(backend: Any, project: str, role: str) -> Section:
    lines = [Line("Verify the chain and read the log", "/audit")]
    for c in backend.list_audit_checkpoints(1):  # the newest signed head, if any
        signed = f"signed {c.signed_at:%Y-%m-%d %H:%M} UTC" if c.signed_at else ""
        lines.append(Line(f"Last checkpoint: entry {c.entry_id:,}", "/audit", detail=signed))
    return Section(role, "Audit trail", lines, "/audit")


def _resources(backend: Any, project: str, role: str) -> Section:
    return Section(
        role, "Resources", [Line("Compute, storage, serving and bottlenecks",
                                 f"/projects/{project}/resources")],
    )  # fmt: skip


SECTIONS: dict[str, list[Callable[[Any, str, str], Section]]] = {
    "subject_matter_expert": [_kpis, _flags],
    "data_scientist": [_runs, _best_runs, _alerts, _approvals, _experiments],
    "data_engineer": [_pipelines, _failed_checks, _datasets],
    "software_engineer": [_endpoints, _deployments],
    "devops": [_deployments, _alerts],
    "risk_manager": [_approvals, _reviews],
    "auditor": [_audit, _reviews],
    "ml_engineer": [_resources, _deployments],
    "owner": [_kpis, _alerts, _approvals],
    "viewer": [_kpis],
}
TITLES = {
    "subject_matter_expert": "Subject-matter expert",
    "data_scientist": "Data scientist",
    "data_engineer": "Data engineer",
    "software_engineer": "Software engineer",
    "devops": "DevOps",
    "risk_manager": "Risk manager",
    "auditor": "Auditor",
    "ml_engineer": "ML engineer / architect",
    "owner": "Owner",
    "viewer": "Viewer",
}


def sections_for(backend: Any, identity: Identity, project: str, roles: set[str]) -> list[Section]:
    """The sections of ``project`` for the roles held there (an administrator: the owner's)."""
    held = roles or ({"owner"} if identity.is_admin else set())
    out: list[Section] = []
    seen: set[str] = set()
    for role in (r for r in SECTIONS if r in held):
        for make in SECTIONS[role]:
            if make.__name__ in seen:
                continue
            seen.add(make.__name__)
            try:
                out.append(make(backend, project, role))
            except RelayError as exc:  # a part that cannot be read now: say so, keep the rest
                out.append(Section(role, make.__name__.strip("_").title(), [Line(exc.message)]))
    return out
