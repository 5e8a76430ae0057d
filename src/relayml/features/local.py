"""The feature registry operations of LocalBackend (in-process, on the store)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from relayml.domain.data import CheckOutcome
from relayml.domain.features import FeatureCheck, FeatureDefinition, FeaturePlan
from relayml.features import environments, registry
from relayml.store import Store

__all__ = ["LocalFeatureOps"]


class LocalFeatureOps:
    """Feature definitions, their versions, checks and environments, run in this process."""

    store: Store
    actor: str

    def plan_features(self, project: str, specs: Sequence[dict[str, Any]]) -> FeaturePlan:
        """What applying these definitions would add or change."""
        return registry.plan(self.store, project, list(specs))

    def apply_features(self, project: str, specs: Sequence[dict[str, Any]]) -> FeaturePlan:
        """Store changed definitions as new versions."""
        return registry.apply(self.store, self.actor, project, list(specs))

    def list_feature_definitions(
        self, project: str, kind: str | None = None
    ) -> list[FeatureDefinition]:
        """The latest version of each definition (of a kind)."""
        return registry.list_definitions(self.store, project, kind)

    def get_feature_definition(
        self,
        project: str,
        kind: str,
        name: str,
        *,
        version: int | None = None,
        environment: str | None = None,
    ) -> FeatureDefinition:
        """One version of a definition."""
        return registry.get_definition(
            self.store, project, kind, name, version=version, environment=environment
        )

    def list_feature_definition_versions(
        self, project: str, kind: str, name: str
    ) -> list[FeatureDefinition]:
        """Every version of a definition, newest first."""
        return registry.list_versions(self.store, project, kind, name)

    def record_feature_check(
        self,
        project: str,
        name: str,
        version: int,
        outcomes: Sequence[CheckOutcome],
        *,
        rows: int,
        latest_event_time: datetime | None,
    ) -> FeatureCheck:
        """Store a feature set version's check outcomes on its source."""
        return environments.record_check(
            self.store,
            self.actor,
            project,
            name,
            version,
            outcomes,
            rows=rows,
            latest_event_time=latest_event_time,
        )

    def list_feature_checks(
        self, project: str, name: str, version: int | None = None
    ) -> list[FeatureCheck]:
        """A feature set's check reports, newest first."""
        return environments.list_checks(self.store, project, name, version)

    def promote_feature_set(
        self,
        project: str,
        name: str,
        environment: str,
        *,
        version: int | None = None,
        reason: str = "",
    ) -> FeatureDefinition:
        """Move a feature set version into an environment, past its gates."""
        return environments.promote(
            self.store, self.actor, project, name, environment, version=version, reason=reason
        )
