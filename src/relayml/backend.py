"""LocalBackend: every service operation in-process, on a Store and a BlobStore.

Tracking (projects, experiments, runs, artifacts, the audit list) is LocalTracking, which this
class extends. Every other service is a class of operations in its own module (LocalModelOps in
relayml.models.local, ...); LocalBackend imports a service's module the first time one of its
operations is used (relayml.operations), so `relay models list` loads the model registry and
none of monitoring, lineage, identity or the reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relayml.config import Settings
from relayml.operations import LazyOperations, services_table
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

# Each service's class and the operations it gives LocalBackend (tests/unit/
# test_backend_services.py checks this table against the classes themselves).
SERVICES = services_table(
    {
        "models": "relayml.models.local:LocalModelOps",
        "data": "relayml.data.local:LocalDataOps",
        "lineage": "relayml.lineage.local:LocalLineageOps",
        "pipelines": "relayml.pipelines.local:LocalPipelineOps",
        "deployments": "relayml.deployments.local:LocalDeploymentOps",
        "monitoring": "relayml.monitoring.local:LocalMonitoringOps",
        "identity": "relayml.identity.local:LocalIdentityOps",
        "audit": "relayml.governance.local:LocalAuditOps",
        "reports": "relayml.reports.local:LocalReportOps",
        "features": "relayml.features.local:LocalFeatureOps",
        "schedules": "relayml.schedules.local:LocalScheduleOps",
    },
    helpers={"identity": ("_me",), "schedules": ("_firing_now", "_reap_firings")},
)


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


class LocalBackend(LocalTracking, LazyOperations, _Services):
    """Every operation, run in this process against the configured store."""

    OPERATIONS = SERVICES

    def __init__(self, settings: Settings, *, store: Store | None = None) -> None:
        super().__init__(settings, store=store)
        self.logs = prediction_logs(settings)
        self.launcher = ProcessLauncher(settings)  # shared by with_actor's views
