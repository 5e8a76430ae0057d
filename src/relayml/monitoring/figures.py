"""The figure an alert rule watches, over the last window of a deployment's live predictions."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from relayml.domain.alert_spec import RuleSpec
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput
from relayml.monitoring.kpis import kpis_of_rows
from relayml.monitoring.windows import drift_of_frame, live_rows, window_length
from relayml.predictions import PredictionLogs, canonical_labels
from relayml.predictions.layout import deployment_key

__all__ = ["figure_of"]


def figure_of(
    backend: Backend, logs: PredictionLogs, project: str, rule: RuleSpec, now: datetime
) -> tuple[float | None, str]:
    """(value or None when there is nothing to measure, a short explanation)."""
    if rule.figure == "review_overdue_days":
        from relayml.monitoring.review_figure import review_overdue_days

        return review_overdue_days(backend, project, rule, now)
    since = now - window_length(rule.window)
    if rule.figure == "error_rate":
        return _error_rate(logs, project, rule, since, now)
    try:
        frame = live_rows(backend, logs, project, rule.model, rule.env, since)
    except InvalidInput:
        if rule.figure == "traffic":
            return 0.0, f"no predictions in the last {rule.window}"
        return None, f"no predictions in the last {rule.window}"
    frame = frame[frame["timestamp"] <= int(now.timestamp() * 1000)]
    figure = rule.figure
    rows = len(frame)
    if figure == "traffic":
        return float(rows), f"{rows} predictions in the last {rule.window}"
    if figure == "latency_p99_ms":
        value = float(np.percentile(frame["latency_ms"].to_numpy(), 99))
        return value, f"p99 latency {value:.1f} ms over {rows} predictions"
    if figure in ("drift_share", "dataset_drifted", "prediction_drift") or figure.startswith(
        "drift:"
    ):
        _, report = drift_of_frame(backend, project, rule.model, frame, environment=rule.env)
        if figure == "drift_share":
            drifted = ", ".join(report.drifted_columns) or "none"
            return report.share, f"{report.share:.0%} of inputs drifted ({drifted}), {rows} rows"
        if figure == "dataset_drifted":
            return float(report.dataset_drifted), f"drift share {report.share:.0%}"
        if figure == "prediction_drift":
            score = report.prediction.score if report.prediction else None
            return score, "drift score of the predictions"
        column = figure.split(":", 1)[1]
        found = next((c for c in report.columns if c.column == column), None)
        if found is None:
            raise InvalidInput(f"rule {rule.name!r}: {rule.model} has no input column {column!r}.")
        return found.score, f"{column}: {found.method} {found.score:.3g}"
    known = frame[frame["outcome"].notna()]
    if figure == "accuracy":
        if known.empty:
            return None, "no outcomes yet"
        predicted = np.array(canonical_labels(known["prediction"].to_numpy()), dtype=object)
        value = float((predicted == known["outcome"].to_numpy()).mean())
        return value, f"accuracy {value:.3f} on {len(known)} outcomes"
    if figure == "estimated_accuracy":
        if "probabilities" not in frame.columns or frame["probabilities"].isna().any():
            return None, "the model gives no probabilities"
        value = float(np.mean([max(p) for p in frame["probabilities"]]))
        return value, f"estimated accuracy {value:.3f} over {rows} predictions"
    name = figure.split(":", 1)[1]
    kpis = [k for k in backend.get_project(project).kpis if k.name == name]
    if not kpis:
        raise InvalidInput(f"rule {rule.name!r}: project {project!r} has no KPI {name!r}.")
    version = backend.get_model_version(project, f"{rule.model}/{int(frame['version'].iloc[-1])}")
    result = kpis_of_rows(kpis, frame, version.signature)[name]
    return result["value"], str(result.get("how", ""))


def _error_rate(
    logs: PredictionLogs, project: str, rule: RuleSpec, since: datetime, now: datetime
) -> tuple[float | None, str]:
    """Share of prediction requests answered 4xx/5xx, from the server's request log."""
    table = logs.read(
        "requests", project, deployment_key(rule.model, rule.env), start=since, end=now
    )
    if table.num_rows == 0:
        return None, f"no prediction requests in the last {rule.window}"
    status = table.column("status").to_numpy()
    failed = int((status >= 400).sum())
    total = len(status)
    return failed / total, f"{failed} of {total} prediction requests failed (4xx/5xx)"
