"""The monitoring operations of HttpBackend: the same calls as LocalMonitoringOps, over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from relayml.domain.monitoring import (
    AlertEvent,
    AlertRule,
    DecisionTableInfo,
    FeedbackFlag,
    PredictionRecord,
)

__all__ = ["HttpMonitoringOps"]


def _project(project: str) -> str:
    return f"/projects/{quote(project, safe='')}"


class HttpMonitoringOps:
    """Predictions by id and feedback flags, on a relay server."""

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # provided by HttpBackend

    def _json(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # provided by HttpBackend

    def get_prediction(self, project: str, prediction_id: str) -> PredictionRecord:
        """A logged prediction by its id: inputs, answer, version."""
        path = f"{_project(project)}/predictions/{quote(prediction_id, safe='')}"
        result: PredictionRecord = self._json("GET", path, PredictionRecord)
        return result

    def production_table(
        self, project: str, model: str, environment: str, *,
        since: datetime | None = None, until: datetime | None = None,
    ) -> Any:  # fmt: skip
        """A deployment's logged inputs, predictions, decisions and outcomes (a pyarrow Table)."""
        from relayml.predictions.frame import from_arrow_bytes

        path = (
            f"{_project(project)}/deployments/{quote(model, safe='')}/"
            f"{quote(environment, safe='')}/production"
        )
        params = {k: v.isoformat() for k, v in (("since", since), ("until", until)) if v}
        return from_arrow_bytes(self._send("GET", path, params=params).content)

    def flag_prediction(
        self,
        project: str,
        prediction_id: str,
        kind: str,
        *,
        comment: str = "",
        correct_value: Any = None,
    ) -> FeedbackFlag:
        """Flag a prediction as wrong or unexpected; a given right answer becomes an outcome."""
        body = {
            "prediction_id": prediction_id,
            "kind": kind,
            "comment": comment,
            "correct_value": correct_value,
        }
        result: FeedbackFlag = self._json(
            "POST", f"{_project(project)}/feedback", FeedbackFlag, json=body
        )
        return result

    def list_flags(
        self, project: str, model: str | None = None, status: str | None = "open"
    ) -> list[FeedbackFlag]:
        """Flags of a project, newest first (open ones by default)."""
        params = {k: v for k, v in (("model", model), ("status", status or "all")) if v}
        result: list[FeedbackFlag] = self._json(
            "GET", f"{_project(project)}/feedback", list[FeedbackFlag], params=params
        )
        return result

    def resolve_flag(self, project: str, flag_id: int, resolution: str) -> FeedbackFlag:
        """Close a flag, saying what was done."""
        path = f"{_project(project)}/feedback/{flag_id}/resolve"
        result: FeedbackFlag = self._json(
            "POST", path, FeedbackFlag, json={"resolution": resolution}
        )
        return result

    # alerts
    def set_alert_rules(self, project: str, source: str) -> list[AlertRule]:
        """Make the project's alert rules those of an alerts file (YAML)."""
        result: list[AlertRule] = self._json(
            "PUT", f"{_project(project)}/alerts/rules", list[AlertRule], json={"source": source}
        )
        return result

    def list_alert_rules(self, project: str) -> list[AlertRule]:
        """Every alert rule of a project."""
        result: list[AlertRule] = self._json(
            "GET", f"{_project(project)}/alerts/rules", list[AlertRule]
        )
        return result

    def list_alert_events(self, project: str, *, active_only: bool = True) -> list[AlertEvent]:
        """Alert events, newest first (open and acknowledged ones unless all are asked)."""
        params = {"all": "false" if active_only else "true"}
        result: list[AlertEvent] = self._json(
            "GET", f"{_project(project)}/alerts", list[AlertEvent], params=params
        )
        return result

    def acknowledge_alert(self, project: str, event_id: int) -> AlertEvent:
        """Mark an open alert as seen."""
        path = f"{_project(project)}/alerts/{event_id}/acknowledge"
        result: AlertEvent = self._json("POST", path, AlertEvent)
        return result

    def run_monitors(self, project: str, at: datetime | None = None) -> list[dict[str, Any]]:
        """Evaluate the project's alert rules now (or as of `at`): fire, update or resolve."""
        params = {} if at is None else {"at": at.isoformat()}
        result: list[dict[str, Any]] = self._send(
            "POST", f"{_project(project)}/monitors/run", params=params
        ).json()
        return result

    # decision tables
    def set_decision_table(self, project: str, model: str, source: str) -> DecisionTableInfo:
        """Store a new revision of a model's decision table (checked against its fields)."""
        path = f"{_project(project)}/models/{quote(model, safe='')}/decisions"
        result: DecisionTableInfo = self._json(
            "PUT", path, DecisionTableInfo, json={"source": source}
        )
        return result

    def get_decision_table(
        self, project: str, model: str, revision: int | None = None
    ) -> DecisionTableInfo:
        """The newest decision table of a model, or one revision."""
        path = f"{_project(project)}/models/{quote(model, safe='')}/decisions"
        params = {"revision": revision} if revision is not None else {}
        result: DecisionTableInfo = self._json("GET", path, DecisionTableInfo, params=params)
        return result

    # explanations
    def explain_prediction(self, project: str, prediction_id: str) -> dict[str, Any]:
        """Each input's contribution to one logged prediction."""
        path = f"{_project(project)}/predictions/{quote(prediction_id, safe='')}/explanation"
        result: dict[str, Any] = self._send("GET", path).json()
        return result

    def model_importance(
        self, project: str, ref: str, dataset: str | None = None
    ) -> dict[str, Any]:
        """Mean |contribution| per input of a model version over its training data."""
        params = {"ref": ref, **({"dataset": dataset} if dataset else {})}
        path = f"{_project(project)}/importance"
        result: dict[str, Any] = self._send("GET", path, params=params).json()
        return result

    # logs
    def compact_logs(self, project: str) -> list[dict[str, Any]]:
        """Merge each closed day's log files into one per partition (today is left alone)."""
        result: list[dict[str, Any]] = self._send(
            "POST", f"{_project(project)}/logs/compact"
        ).json()
        return result
