"""The operations every transport offers: in-process (LocalBackend) or HTTP (HttpBackend)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from relayml.domain.ports_features import FeaturesPort
from relayml.domain.ports_governance import GovernancePort
from relayml.domain.ports_schedules import SchedulesPort
from relayml.domain.ports_tracking import MetricRow, TrackingPort

if TYPE_CHECKING:  # the types only: importing a port loads none of the domain's models
    from datetime import datetime

    from relayml.domain.data import CheckOutcome, DataCheckReport, Dataset, DatasetVersion
    from relayml.domain.lineage import LineageEdge, LineageGraph, LineageNode
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
    from relayml.domain.pipelines import PipelineRun
    from relayml.domain.serving import Deployment, DeploymentRevision, Strategy, Variant

__all__ = ["Backend", "MetricRow", "TrackingPort"]


class Backend(TrackingPort, GovernancePort, FeaturesPort, SchedulesPort, Protocol):
    """What the SDK and CLI need from relayml, whichever transport carries it.

    Each method says what it does and which errors of relayml.errors it raises. Over HTTP any
    method may also raise ServerUnavailable (the server cannot be reached or broke off). The
    audit chain, the risk views and identity are in GovernancePort (domain/ports_governance.py),
    the feature registry in FeaturesPort (domain/ports_features.py), pipeline schedules in
    SchedulesPort (domain/ports_schedules.py), projects, experiments, runs, artifacts and the
    audit list in TrackingPort (domain/ports_tracking.py).
    """

    # blobs and members
    def upload_blob(self, source: str | Path | IO[bytes]) -> tuple[str, int]:
        """Store bytes by content hash, returning (sha256, size); InvalidInput if too large."""

    def fetch_blob(self, sha256: str, dest: str | Path) -> Path:
        """Write a blob to dest, verified by its hash; NotFound, CorruptArtifact."""

    def add_member(self, project: str, user: str, role: str) -> None:
        """Give a user a role in a project; NotFound (project), InvalidInput (role)."""

    def list_members(self, project: str) -> dict[str, list[str]]:
        """Each member of a project with their roles; NotFound (project)."""

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
    ) -> ModelVersion:
        """Register a version whose files are uploaded; NotFound, InvalidInput."""

    def get_model(self, project: str, name: str) -> RegisteredModel:
        """A registered model with its latest version and environments; NotFound."""

    def list_models(self, project: str) -> list[RegisteredModel]:
        """A project's registered models; NotFound (project)."""

    def get_model_version(self, project: str, ref: str) -> ModelVersion:
        """The version a ref names (churn/3, churn@production, churn); NotFound, InvalidInput."""

    def list_model_versions(self, project: str, name: str) -> list[ModelVersion]:
        """A model's versions, newest first; NotFound."""

    def model_history(self, project: str, name: str) -> ModelHistory:
        """Who moved which version into which environment, when and why; NotFound."""

    def create_evaluation(self, project: str, ref: str, result: dict[str, Any]) -> Evaluation:
        """Store an evaluation of a version; NotFound (version), InvalidInput (result)."""

    def list_evaluations(self, project: str, ref: str) -> list[Evaluation]:
        """A version's evaluations, newest first; NotFound."""

    def set_policy(self, project: str, source: str) -> PolicyInfo:
        """Store a new revision of the project's promotion policy (YAML); InvalidInput, NotFound."""

    def get_policy(self, project: str) -> PolicyInfo:
        """The project's current promotion policy (revision None: none yet); NotFound (project)."""

    def promote(self, project: str, ref: str, environment: str, reason: str = "") -> Promotion:
        """Ask to move a version into an environment; InvalidInput, NotFound, Conflict."""

    def decide_promotion(
        self, project: str, ref: str, environment: str, decision: str, comment: str = ""
    ) -> Promotion:
        """Approve or reject a waiting promotion; NotFound, InvalidInput, PermissionDenied."""

    def check_promotion(self, project: str, ref: str, environment: str) -> GateReport:
        """Run the gates for a promotion, changing nothing; NotFound, InvalidInput."""

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
    ) -> DatasetVersion:
        """Register a version whose Parquet is uploaded (same content, same version); NotFound."""

    def get_dataset_version(self, project: str, ref: str) -> DatasetVersion:
        """The version a ref names (customers@3, @latest, bare); NotFound, InvalidInput."""

    def list_datasets(self, project: str) -> list[Dataset]:
        """A project's datasets, by name; NotFound (project)."""

    def list_dataset_versions(self, project: str, name: str) -> list[DatasetVersion]:
        """A dataset's versions, newest first; NotFound."""

    def record_data_check(
        self,
        project: str,
        ref: str,
        spec: dict[str, Any],
        outcomes: Sequence[CheckOutcome],
    ) -> DataCheckReport:
        """Store the outcomes of a data check on a version; NotFound, InvalidInput."""

    def list_data_checks(self, project: str, ref: str) -> list[DataCheckReport]:
        """A version's data check reports, newest first; NotFound."""

    # lineage
    def link(self, nodes: Sequence[LineageNode], edges: Sequence[LineageEdge] = ()) -> None:
        """Record lineage nodes and edges (idempotent); InvalidInput for an unknown kind."""

    def lineage(
        self, kind: str, key: str, *, depth: int = 3, direction: str = "both"
    ) -> LineageGraph:
        """The lineage graph around a node; NotFound (node), InvalidInput (depth, direction)."""

    def ingest_openlineage(self, event: Mapping[str, Any]) -> None:
        """Record an OpenLineage RunEvent's inputs and outputs; InvalidInput."""

    # pipelines
    def create_pipeline_run(
        self,
        project: str,
        pipeline: str,
        *,
        executor: str = "local",
        params: Mapping[str, Any] | None = None,
    ) -> PipelineRun:
        """Start recording a pipeline run; NotFound (project), InvalidInput (name)."""

    def record_step_run(
        self, run_id: str, record: Mapping[str, Any], *, cache: bool = False
    ) -> int:
        """Store an ended step run (and its cache entry); NotFound, Conflict, InvalidInput."""

    def finish_pipeline_run(
        self, run_id: str, status: str, *, error: str | None = None
    ) -> PipelineRun:
        """End a pipeline run FINISHED or FAILED; NotFound, Conflict, InvalidInput."""

    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        """A pipeline run with its steps, by id or 6+ char prefix; NotFound, InvalidInput."""

    def list_pipeline_runs(
        self, project: str, *, pipeline: str | None = None, limit: int = 50
    ) -> list[PipelineRun]:
        """A project's pipeline runs, newest first; NotFound (project), InvalidInput."""

    def lookup_cache(self, cache_key: str) -> dict[str, Any] | None:
        """The step cache entry of a key if all its blobs exist, else None; raises nothing."""

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
    ) -> Deployment:
        """Store a new revision of a deployment; NotFound (model, version), InvalidInput."""

    def get_deployment(self, project: str, model: str, environment: str) -> Deployment:
        """The current revision of a deployment; NotFound, InvalidInput (environment)."""

    def list_deployments(self, project: str) -> list[Deployment]:
        """Every deployment of a project; NotFound (project)."""

    def deployment_history(
        self, project: str, model: str, environment: str
    ) -> list[DeploymentRevision]:
        """Every revision of a deployment, oldest first; NotFound."""

    def deployment_state(
        self, project: str, model: str, environment: str
    ) -> tuple[int | None, int | None]:
        """(revision or None, the environment alias's version or None); NotFound (model)."""

    def log_outcomes(
        self,
        project: str,
        prediction_ids: Sequence[str],
        values: Sequence[Any],
        *,
        model: str | None = None,
    ) -> int:
        """Store true values of earlier predictions (durable on return); InvalidInput, NotFound."""

    # monitoring
    def get_prediction(self, project: str, prediction_id: str) -> PredictionRecord:
        """One logged prediction with its outcome and flags; NotFound."""

    def production_table(
        self, project: str, model: str, environment: str, *,
        since: datetime | None = None, until: datetime | None = None,
    ) -> Any:  # fmt: skip
        """A deployment's logged rows and outcomes as a pyarrow Table; InvalidInput, NotFound."""

    def flag_prediction(
        self,
        project: str,
        prediction_id: str,
        kind: str,
        *,
        comment: str = "",
        correct_value: Any = None,
    ) -> FeedbackFlag:
        """Flag a prediction for review; NotFound (prediction), InvalidInput (kind)."""

    def list_flags(
        self, project: str, model: str | None = None, status: str | None = "open"
    ) -> list[FeedbackFlag]:
        """A project's feedback flags, newest first; NotFound (project), InvalidInput (status)."""

    def resolve_flag(self, project: str, flag_id: int, resolution: str) -> FeedbackFlag:
        """Close a flag with a resolution; NotFound, Conflict if already resolved."""

    def set_alert_rules(self, project: str, source: str) -> list[AlertRule]:
        """Replace the project's alert rules (YAML); InvalidInput, NotFound."""

    def list_alert_rules(self, project: str) -> list[AlertRule]:
        """The project's alert rules; NotFound (project)."""

    def list_alert_events(self, project: str, *, active_only: bool = True) -> list[AlertEvent]:
        """Alert events, the active ones unless asked otherwise; NotFound (project)."""

    def acknowledge_alert(self, project: str, event_id: int) -> AlertEvent:
        """Acknowledge an alert event; NotFound, Conflict if already acknowledged."""

    def run_monitors(self, project: str, at: datetime | None = None) -> list[dict[str, Any]]:
        """Evaluate every alert rule of the project now, or as of `at`; NotFound (project)."""

    def set_decision_table(self, project: str, model: str, source: str) -> DecisionTableInfo:
        """Store a new revision of a model's decision table (YAML); InvalidInput, NotFound."""

    def get_decision_table(
        self, project: str, model: str, revision: int | None = None
    ) -> DecisionTableInfo:
        """A model's decision table, the newest or one revision; NotFound."""

    def explain_prediction(self, project: str, prediction_id: str) -> dict[str, Any]:
        """Feature contributions to one logged prediction; NotFound, InvalidInput."""

    def compact_logs(self, project: str) -> list[dict[str, Any]]:
        """Merge closed days of the project's prediction logs into fewer files; NotFound."""

    def model_importance(
        self, project: str, ref: str, dataset: str | None = None
    ) -> dict[str, Any]:
        """Permutation importance of a version's features on a dataset; NotFound, InvalidInput."""
