"""The deployment operations of LocalBackend (in-process, on the store)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relayml.deployments import revisions as deployments
from relayml.domain.serving import Deployment, DeploymentRevision, Strategy, Variant
from relayml.predictions import PredictionLogs
from relayml.store import Store

__all__ = ["LocalDeploymentOps"]


class LocalDeploymentOps:
    """Deployments and their history, run in this process."""

    store: Store
    actor: str
    logs: PredictionLogs

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
        """Store a new revision of a deployment; a running server picks it up."""
        return deployments.deploy(
            self.store,
            self.actor,
            project,
            model,
            environment,
            strategy,
            list(variants),
            sticky_key=sticky_key,
            reason=reason,
        )

    def get_deployment(self, project: str, model: str, environment: str) -> Deployment:
        """The current revision of a deployment."""
        return deployments.get_deployment(self.store, project, model, environment)

    def list_deployments(self, project: str) -> list[Deployment]:
        """Every deployment of a project."""
        return deployments.list_deployments(self.store, project)

    def deployment_history(
        self, project: str, model: str, environment: str
    ) -> list[DeploymentRevision]:
        """Every revision of a deployment, oldest first."""
        return deployments.deployment_history(self.store, project, model, environment)

    def deployment_state(
        self, project: str, model: str, environment: str
    ) -> tuple[int | None, int | None]:
        """(revision or None, the environment alias's version or None)."""
        return deployments.deployment_state(self.store, project, model, environment)

    def log_outcomes(
        self,
        project: str,
        prediction_ids: Sequence[str],
        values: Sequence[Any],
        *,
        model: str | None = None,
    ) -> int:
        """Store true values of earlier predictions (durable on return); joined later by id."""
        from relayml.predictions.outcomes import check_outcomes, plain_list
        from relayml.projects.service import get_project

        check_outcomes(plain_list(prediction_ids), plain_list(values))  # before the project
        get_project(self.store, project)
        return self.logs.log_outcomes(project, prediction_ids, values, model=model, source="sdk")
