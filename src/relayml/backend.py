"""LocalBackend: every service operation in-process, on a Store and a BlobStore (tracking is
relayml.tracking.local's LocalTracking, which this class extends)."""

from __future__ import annotations

from relayml.config import Settings
from relayml.data.local import LocalDataOps
from relayml.deployments.local import LocalDeploymentOps
from relayml.features.local import LocalFeatureOps
from relayml.governance.local import LocalAuditOps
from relayml.identity.local import LocalIdentityOps
from relayml.lineage.local import LocalLineageOps
from relayml.models.local import LocalModelOps
from relayml.monitoring.local import LocalMonitoringOps
from relayml.pipelines.local import LocalPipelineOps
from relayml.predictions.logs import LogOptions, PredictionLogs
from relayml.reports.local import LocalReportOps
from relayml.schedules.launch import ProcessLauncher
from relayml.schedules.local import LocalScheduleOps
from relayml.store import Store
from relayml.tracking.local import LocalTracking
from relayml.transport import open_backend

__all__ = ["LocalBackend", "open_backend", "prediction_logs"]


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


class LocalBackend(
    LocalTracking,
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
    """Every operation, run in this process against the configured store."""

    def __init__(self, settings: Settings, *, store: Store | None = None) -> None:
        super().__init__(settings, store=store)
        self.blobs = self.open_blobs()  # now, so that with_actor's views share one
        self.logs = prediction_logs(settings)
        self.launcher = ProcessLauncher(settings)  # shared by with_actor's views
