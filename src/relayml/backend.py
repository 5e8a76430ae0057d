"""LocalBackend: every service operation in-process, on a Store and a BlobStore.

Tracking (projects, experiments, runs, artifacts, the audit list) is LocalTracking, which this
class extends. Every other service is a class of operations in its own module (LocalModelOps in
relayml.models.local, ...); LocalBackend imports a service's module the first time one of its
operations is used, so `relay models list` loads the model registry and none of monitoring,
lineage, identity or the reports. mypy sees LocalBackend with every service as a base class.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

from relayml.config import Settings
from relayml.predictions.logs import LogOptions, PredictionLogs
from relayml.schedules.launch import ProcessLauncher
from relayml.store import Store
from relayml.tracking.local import LocalTracking
from relayml.transport import open_backend

if TYPE_CHECKING:
    from relayml.data.local import LocalDataOps
    from relayml.deployments.local import LocalDeploymentOps
    from relayml.features.local import LocalFeatureOps
    from relayml.governance.local import LocalAuditOps
    from relayml.identity.local import LocalIdentityOps
    from relayml.lineage.local import LocalLineageOps
    from relayml.models.local import LocalModelOps
    from relayml.monitoring.local import LocalMonitoringOps
    from relayml.pipelines.local import LocalPipelineOps
    from relayml.reports.local import LocalReportOps
    from relayml.schedules.local import LocalScheduleOps

    class _Services(
        LocalModelOps,
        LocalDataOps,
        LocalLineageOps,
        LocalPipelineOps,
        LocalDeploymentOps,
        LocalMonitoringOps,
        LocalIdentityOps,
        LocalAuditOps,
        LocalReportOps,
        LocalFeatureOps,
        LocalScheduleOps,
    ):
        """Every service's operations, as the type checker sees LocalBackend."""

else:
    _Services = object

__all__ = ["SERVICES", "LocalBackend", "open_backend", "prediction_logs"]

# Each service's class ("module:class") and its operations (every function the class defines).
# tests/unit/test_backend_services.py checks this table against the classes themselves.
SERVICES: dict[str, tuple[str, ...]] = {
    "relayml.models.local:LocalModelOps": (
        "upload_blob", "fetch_blob", "add_member", "list_members", "create_model_version",
        "get_model", "list_models", "get_model_version", "list_model_versions", "model_history",
        "create_evaluation", "list_evaluations", "set_policy", "get_policy", "promote",
        "decide_promotion", "check_promotion",
    ),
    "relayml.data.local:LocalDataOps": (
        "create_dataset_version", "get_dataset_version", "list_datasets",
        "list_dataset_versions", "record_data_check", "list_data_checks",
    ),
    "relayml.lineage.local:LocalLineageOps": ("link", "lineage", "ingest_openlineage"),
    "relayml.pipelines.local:LocalPipelineOps": (
        "create_pipeline_run", "record_step_run", "finish_pipeline_run", "get_pipeline_run",
        "list_pipeline_runs", "lookup_cache",
    ),
    "relayml.deployments.local:LocalDeploymentOps": (
        "deploy", "get_deployment", "list_deployments", "deployment_history",
        "deployment_state", "log_outcomes",
    ),
    "relayml.monitoring.local:LocalMonitoringOps": (
        "get_prediction", "production_table", "flag_prediction", "list_flags", "resolve_flag",
        "set_alert_rules", "list_alert_rules", "list_alert_events", "acknowledge_alert",
        "run_monitors", "set_decision_table", "get_decision_table", "explain_prediction",
        "model_importance", "compact_logs",
    ),
    "relayml.identity.local:LocalIdentityOps": (
        "_me", "whoami", "list_users", "add_user", "get_user", "disable_user", "enable_user",
        "set_admin", "set_password", "create_token", "list_tokens", "revoke_token",
    ),
    "relayml.governance.local:LocalAuditOps": (
        "verify_audit", "create_audit_checkpoint", "list_audit_checkpoints", "export_audit",
    ),
    "relayml.reports.local:LocalReportOps": (
        "inventory", "set_risk_tier", "retire_model", "get_model_card", "set_model_card",
        "build_model_report", "resource_overview",
    ),
    "relayml.features.local:LocalFeatureOps": (
        "plan_features", "apply_features", "list_feature_definitions", "get_feature_definition",
        "list_feature_definition_versions", "record_feature_check", "list_feature_checks",
        "promote_feature_set", "materialize_feature_set", "online_features",
    ),
    "relayml.schedules.local:LocalScheduleOps": (
        "add_schedule", "list_schedules", "get_schedule", "pause_schedule", "resume_schedule",
        "remove_schedule", "update_firing", "tick_schedules", "_firing_now", "_reap_firings",
    ),
}  # fmt: skip
_SERVICE_OF = {name: service for service, names in SERVICES.items() for name in names}
_loading = threading.Lock()


def prediction_logs(settings: Settings) -> PredictionLogs:
    """The prediction, outcome and request logs the settings point at (beside the artifacts)."""
    return PredictionLogs(
        settings.resolved_artifacts_url,
        LogOptions(
            storage=dict(settings.artifacts_options),
            flush_interval=settings.prediction_flush_interval,
            max_rows=settings.prediction_log_max_rows,
        ),
    )


def _load_service(name: str) -> Any:
    """The function `name` of its service's class, after giving LocalBackend all of that class.

    AttributeError when no service has an operation of that name.
    """
    service = _SERVICE_OF.get(name)
    if service is None:
        raise AttributeError(f"'LocalBackend' object has no attribute {name!r}")
    module, class_name = service.split(":")
    operations = vars(getattr(importlib.import_module(module), class_name))
    with _loading:
        for operation in SERVICES[service]:
            if operation not in vars(LocalBackend):  # a test's monkeypatch stays
                setattr(LocalBackend, operation, operations[operation])
    return vars(LocalBackend)[name]


class LocalBackend(LocalTracking, _Services):
    """Every operation, run in this process against the configured store."""

    def __init__(self, settings: Settings, *, store: Store | None = None) -> None:
        super().__init__(settings, store=store)
        self.logs = prediction_logs(settings)
        self.launcher = ProcessLauncher(settings)  # shared by with_actor's views

    if not TYPE_CHECKING:  # to mypy, every service is a base class

        def __getattr__(self, name: str) -> Any:
            """A service's operation not loaded yet: its module is imported, then it is bound."""
            return _load_service(name).__get__(self, type(self))
