"""HttpBackend's services: which class holds which operation, loaded on first use.

See relayml.operations. To mypy, `Services` has every service class as a base, so HttpBackend
is type-checked as if it inherited them all; at run time it is `object`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relayml.operations import services_table

if TYPE_CHECKING:
    from relayml.client.audit import HttpAuditOps
    from relayml.client.data import HttpDataOps
    from relayml.client.features import HttpFeatureOps
    from relayml.client.identity import HttpIdentityOps
    from relayml.client.lineage import HttpLineageOps
    from relayml.client.models import HttpModelOps
    from relayml.client.monitoring import HttpMonitoringOps
    from relayml.client.pipelines import HttpPipelineOps
    from relayml.client.reports import HttpReportOps
    from relayml.client.schedules import HttpScheduleOps
    from relayml.client.serving import HttpServingOps

    class Services(
        HttpModelOps,
        HttpDataOps,
        HttpLineageOps,
        HttpPipelineOps,
        HttpServingOps,
        HttpMonitoringOps,
        HttpIdentityOps,
        HttpAuditOps,
        HttpReportOps,
        HttpFeatureOps,
        HttpScheduleOps,
    ):
        """Every service's operations, as the type checker sees HttpBackend."""

else:
    Services = object

__all__ = ["SERVICES", "Services"]

# Each service's class and the operations it gives HttpBackend (see relayml.operations): its
# functions but the transport's (_send, _json, _error), which HttpBackend defines itself.
SERVICES = services_table(
    {
        "models": "relayml.client.models:HttpModelOps",
        "data": "relayml.client.data:HttpDataOps",
        "lineage": "relayml.client.lineage:HttpLineageOps",
        "pipelines": "relayml.client.pipelines:HttpPipelineOps",
        "deployments": "relayml.client.serving:HttpServingOps",
        "monitoring": "relayml.client.monitoring:HttpMonitoringOps",
        "identity": "relayml.client.identity:HttpIdentityOps",
        "audit": "relayml.client.audit:HttpAuditOps",
        "reports": "relayml.client.reports:HttpReportOps",
        "features": "relayml.client.features:HttpFeatureOps",
        "schedules": "relayml.client.schedules:HttpScheduleOps",
    },
    helpers={"schedules": ("_set",)},
)
