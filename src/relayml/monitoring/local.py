"""The monitoring operations of LocalBackend: predictions by id, feedback flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relayml.config import Settings
from relayml.domain.monitoring import (
    AlertEvent,
    AlertRule,
    DecisionTableInfo,
    FeedbackFlag,
    PredictionRecord,
)
from relayml.predictions import PredictionLogs
from relayml.store import Store

__all__ = ["LocalMonitoringOps"]


class LocalMonitoringOps:
    """Look predictions up, flag them, review flags; in this process."""

    store: Store
    actor: str
    settings: Settings
    logs: PredictionLogs

    def get_prediction(self, project: str, prediction_id: str) -> PredictionRecord:
        """A logged prediction by its id: inputs, answer, version."""
        from relayml.monitoring.feedback import find_prediction

        return find_prediction(self.logs, project, prediction_id)

    def production_table(
        self, project: str, model: str, environment: str, *,
        since: datetime | None = None, until: datetime | None = None,
    ) -> Any:  # fmt: skip
        """A deployment's logged inputs, predictions, decisions and outcomes (a pyarrow Table)."""
        from relayml.models import registry
        from relayml.predictions.frame import production_table
        from relayml.predictions.layout import deployment_key

        registry.get_model(self.store, project, model)  # NotFound: an unknown project or model
        key = deployment_key(model, environment)
        return production_table(self.logs, project, key, since=since, until=until)

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
        from relayml.monitoring.feedback import find_prediction, flag_prediction

        record = find_prediction(self.logs, project, prediction_id)
        flag = flag_prediction(
            self.store, self.actor, project, record, kind, comment, correct_value
        )
        if flag.correct_value is not None:  # as checked against the model's classes
            self.logs.log_outcomes(
                project,
                [prediction_id],
                [flag.correct_value],
                model=record.model,
                source="feedback",
            )
        return flag

    def list_flags(
        self, project: str, model: str | None = None, status: str | None = "open"
    ) -> list[FeedbackFlag]:
        """Flags of a project, newest first (open ones by default)."""
        from relayml.monitoring.feedback import list_flags

        return list_flags(self.store, project, model, status)

    def resolve_flag(self, project: str, flag_id: int, resolution: str) -> FeedbackFlag:
        """Close a flag, saying what was done."""
        from relayml.monitoring.feedback import resolve_flag

        return resolve_flag(self.store, self.actor, project, flag_id, resolution)

    # alerts
    def set_alert_rules(self, project: str, source: str) -> list[AlertRule]:
        """Make the project's alert rules those of an alerts file (YAML)."""
        from relayml.monitoring.alerts import set_rules

        return set_rules(self.store, self.actor, project, source)

    def list_alert_rules(self, project: str) -> list[AlertRule]:
        """Every alert rule of a project."""
        from relayml.monitoring.alerts import list_rules

        return list_rules(self.store, project)

    def list_alert_events(self, project: str, *, active_only: bool = True) -> list[AlertEvent]:
        """Alert events, newest first (open and acknowledged ones unless all are asked)."""
        from relayml.monitoring.alerts import list_events

        return list_events(self.store, project, active_only=active_only)

    def acknowledge_alert(self, project: str, event_id: int) -> AlertEvent:
        """Mark an open alert as seen."""
        from relayml.monitoring.alerts import acknowledge

        return acknowledge(self.store, self.actor, project, event_id)

    def run_monitors(self, project: str, at: datetime | None = None) -> list[dict[str, Any]]:
        """Evaluate the project's alert rules now (or as of `at`, for replayed traffic): fire,
        update or resolve alerts."""
        from dataclasses import asdict

        from relayml.monitoring.alerts import evaluate_rules

        backend: Any = self
        return [
            asdict(e)
            for e in evaluate_rules(
                backend,
                self.logs,
                self.store,
                project,
                retraining=self.settings.home / "retraining",
                now=at,
                actor=self.actor,
            )
        ]

    # decision tables
    def set_decision_table(self, project: str, model: str, source: str) -> DecisionTableInfo:
        """Store a new revision of a model's decision table (checked against its fields)."""
        from relayml.monitoring.decision_tables import set_decision_table

        return set_decision_table(self.store, self.actor, project, model, source)

    def get_decision_table(
        self, project: str, model: str, revision: int | None = None
    ) -> DecisionTableInfo:
        """The newest decision table of a model, or one revision."""
        from relayml.monitoring.decision_tables import get_decision_table

        return get_decision_table(self.store, project, model, revision)

    # explanations
    def explain_prediction(self, project: str, prediction_id: str) -> dict[str, Any]:
        """Each input's contribution to one logged prediction."""
        from relayml.monitoring.explanations import explain_prediction

        backend: Any = self
        return explain_prediction(backend, self.logs, project, prediction_id)

    def model_importance(
        self, project: str, ref: str, dataset: str | None = None
    ) -> dict[str, Any]:
        """Mean |contribution| per input of a model version over its training data."""
        from relayml.monitoring.explanations import model_importance

        backend: Any = self
        return model_importance(backend, project, ref, dataset)

    # logs
    def compact_logs(self, project: str) -> list[dict[str, Any]]:
        """Merge each closed day's log files into one per partition (today is left alone)."""
        self.get_project(project)  # type: ignore[attr-defined]  # NotFound for a typo
        return self.logs.compact_closed_days(project)
