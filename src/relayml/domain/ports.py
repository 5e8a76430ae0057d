"""The operations every transport offers: in-process (LocalBackend) or HTTP (HttpBackend)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from relayml.domain.data import (
    CheckOutcome,
    DataCheckReport,
    Dataset,
    DatasetVersion,
    LineageEdge,
    LineageGraph,
    LineageNode,
)
from relayml.domain.entities import (
    KPI,
    Artifact,
    AuditEntry,
    Experiment,
    MetricPoint,
    Project,
    Run,
    RunPage,
    RunStatus,
)
from relayml.domain.models import (
    Evaluation,
    GateReport,
    ModelFile,
    ModelHistory,
    ModelVersion,
    PolicyInfo,
    Promotion,
    RegisteredModel,
    Signature,
)
from relayml.domain.monitoring import (
    AlertEvent,
    AlertRule,
    DecisionTableInfo,
    FeedbackFlag,
    PredictionRecord,
)
from relayml.domain.serving import Deployment, DeploymentRevision, Strategy, Variant

__all__ = ["Backend", "MetricRow"]

# (key, value, step, timestamp in ms): the compact form metric points travel in.
MetricRow = tuple[str, float, int, int]


class Backend(Protocol):
    """What the SDK and CLI need from relayml, whichever transport carries it."""

    actor: str

    def with_actor(self, actor: str) -> Backend: ...

    # projects
    def create_project(
        self,
        name: str,
        *,
        description: str = "",
        business_question: str = "",
        owner: str | None = None,
        kpis: Sequence[KPI | dict[str, Any]] = (),
    ) -> Project: ...
    def get_project(self, name: str) -> Project: ...
    def list_projects(self) -> list[Project]: ...
    def update_project(
        self,
        name: str,
        *,
        description: str | None = None,
        business_question: str | None = None,
        owner: str | None = None,
        kpis: Sequence[KPI | dict[str, Any]] | None = None,
    ) -> Project: ...

    # experiments
    def create_experiment(
        self, project: str, name: str, *, description: str = ""
    ) -> Experiment: ...
    def get_experiment(self, project: str, name: str) -> Experiment: ...
    def list_experiments(self, project: str) -> list[Experiment]: ...

    # runs
    def create_run(
        self,
        project: str,
        experiment: str,
        *,
        name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        system: Mapping[str, Any] | None = None,
        start_time: int | None = None,
    ) -> Run: ...
    def get_run(self, run_id: str) -> Run: ...
    def end_run(
        self,
        run_id: str,
        status: RunStatus | str,
        *,
        error: str | None = None,
        end_time: int | None = None,
        cpu_time: float | None = None,
        peak_memory_mb: float | None = None,
        params: Mapping[str, Any] | None = None,
        points: Sequence[MetricRow] = (),
    ) -> None: ...
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None: ...
    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None: ...
    def log_metrics(self, run_id: str, points: Sequence[MetricRow]) -> None: ...
    def get_metric_history(self, run_id: str, key: str) -> list[MetricPoint]: ...
    def search_runs(
        self,
        project: str,
        *,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        experiments: Sequence[str] | None = None,
    ) -> RunPage: ...

    # artifacts
    def log_artifact(self, run_id: str, path: str, source: str | Path | IO[bytes]) -> Artifact: ...
    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]: ...

    # audit
    def list_audit(
        self, *, entity_kind: str | None = None, entity_id: str | None = None, limit: int = 100
    ) -> list[AuditEntry]: ...

    # blobs and members
    def upload_blob(self, source: str | Path | IO[bytes]) -> tuple[str, int]: ...
    def fetch_blob(self, sha256: str, dest: str | Path) -> Path: ...
    def add_member(self, project: str, user: str, role: str) -> None: ...
    def list_members(self, project: str) -> dict[str, list[str]]: ...

    # models
    def create_model_version(
        self,
        project: str,
        name: str,
        *,
        flavor: str,
        files: Sequence[ModelFile],
        signature: Signature,
        requirements: Sequence[str],
        details: dict[str, Any] | None = None,
        run_id: str | None = None,
        description: str = "",
    ) -> ModelVersion: ...
    def get_model(self, project: str, name: str) -> RegisteredModel: ...
    def list_models(self, project: str) -> list[RegisteredModel]: ...
    def get_model_version(self, project: str, ref: str) -> ModelVersion: ...
    def list_model_versions(self, project: str, name: str) -> list[ModelVersion]: ...
    def model_history(self, project: str, name: str) -> ModelHistory: ...
    def create_evaluation(self, project: str, ref: str, result: dict[str, Any]) -> Evaluation: ...
    def list_evaluations(self, project: str, ref: str) -> list[Evaluation]: ...
    def set_policy(self, project: str, source: str) -> PolicyInfo: ...
    def get_policy(self, project: str) -> PolicyInfo: ...
    def promote(self, project: str, ref: str, environment: str, reason: str = "") -> Promotion: ...
    def decide_promotion(
        self, project: str, ref: str, environment: str, decision: str, comment: str = ""
    ) -> Promotion: ...
    def check_promotion(self, project: str, ref: str, environment: str) -> GateReport: ...

    # datasets and data checks
    def create_dataset_version(
        self,
        project: str,
        name: str,
        *,
        content_hash: str,
        sha256: str,
        rows: int,
        columns: int,
        schema: list[dict[str, Any]],
        profile: dict[str, Any],
        source: dict[str, Any],
        description: str = "",
    ) -> DatasetVersion: ...
    def get_dataset_version(self, project: str, ref: str) -> DatasetVersion: ...
    def list_datasets(self, project: str) -> list[Dataset]: ...
    def list_dataset_versions(self, project: str, name: str) -> list[DatasetVersion]: ...
    def record_data_check(
        self,
        project: str,
        ref: str,
        spec: dict[str, Any],
        outcomes: Sequence[CheckOutcome],
    ) -> DataCheckReport: ...
    def list_data_checks(self, project: str, ref: str) -> list[DataCheckReport]: ...

    # lineage
    def link(self, nodes: Sequence[LineageNode], edges: Sequence[LineageEdge] = ()) -> None: ...
    def lineage(
        self, kind: str, key: str, *, depth: int = 3, direction: str = "both"
    ) -> LineageGraph: ...
    def ingest_openlineage(self, event: Mapping[str, Any]) -> None: ...

    # deployments
    def deploy(
        self,
        project: str,
        model: str,
        environment: str,
        strategy: Strategy,
        variants: Sequence[Variant],
        *,
        sticky_key: str | None = None,
        reason: str = "",
    ) -> Deployment: ...
    def get_deployment(self, project: str, model: str, environment: str) -> Deployment: ...
    def list_deployments(self, project: str) -> list[Deployment]: ...
    def deployment_history(
        self, project: str, model: str, environment: str
    ) -> list[DeploymentRevision]: ...
    def deployment_state(
        self, project: str, model: str, environment: str
    ) -> tuple[int | None, int | None]: ...
    def log_outcomes(
        self,
        project: str,
        prediction_ids: Sequence[str],
        values: Sequence[Any],
        *,
        model: str | None = None,
    ) -> int: ...

    # monitoring
    def get_prediction(self, project: str, prediction_id: str) -> PredictionRecord: ...
    def flag_prediction(
        self,
        project: str,
        prediction_id: str,
        kind: str,
        *,
        comment: str = "",
        correct_value: Any = None,
    ) -> FeedbackFlag: ...
    def list_flags(
        self, project: str, model: str | None = None, status: str | None = "open"
    ) -> list[FeedbackFlag]: ...
    def resolve_flag(self, project: str, flag_id: int, resolution: str) -> FeedbackFlag: ...
    def set_alert_rules(self, project: str, source: str) -> list[AlertRule]: ...
    def list_alert_rules(self, project: str) -> list[AlertRule]: ...
    def list_alert_events(self, project: str, *, active_only: bool = True) -> list[AlertEvent]: ...
    def acknowledge_alert(self, project: str, event_id: int) -> AlertEvent: ...
    def run_monitors(self, project: str) -> list[dict[str, Any]]: ...
    def set_decision_table(self, project: str, model: str, source: str) -> DecisionTableInfo: ...
    def get_decision_table(
        self, project: str, model: str, revision: int | None = None
    ) -> DecisionTableInfo: ...
    def explain_prediction(self, project: str, prediction_id: str) -> dict[str, Any]: ...
    def compact_logs(self, project: str) -> list[dict[str, Any]]: ...
    def model_importance(
        self, project: str, ref: str, dataset: str | None = None
    ) -> dict[str, Any]: ...

    def close(self) -> None: ...
