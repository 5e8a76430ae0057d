"""The feature store part of the Backend port: definitions, plans, checks, environments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from relayml.domain.data import CheckOutcome
    from relayml.domain.features import FeatureCheck, FeatureDefinition, FeaturePlan
    from relayml.domain.features_online import Materialization, OnlineValues

__all__ = ["FeaturesPort"]


class FeaturesPort(Protocol):
    """Operations of relayml.domain.ports.Backend for the feature store's registry.

    Definitions are specs ({"kind": "entity" | "feature_set" | "on_demand", ...}) as
    relayml.domain.features models dump them. Same conventions as Backend.
    """

    def plan_features(self, project: str, specs: Sequence[dict[str, Any]]) -> FeaturePlan:
        """What applying these definitions would add or change; NotFound, InvalidInput."""

    def apply_features(self, project: str, specs: Sequence[dict[str, Any]]) -> FeaturePlan:
        """Store changed definitions as new versions (audited); NotFound, InvalidInput."""

    def list_feature_definitions(
        self, project: str, kind: str | None = None
    ) -> list[FeatureDefinition]:
        """The latest version of each definition (of a kind), by name; NotFound, InvalidInput."""

    def get_feature_definition(
        self,
        project: str,
        kind: str,
        name: str,
        *,
        version: int | None = None,
        environment: str | None = None,
    ) -> FeatureDefinition:
        """One version (None: the latest, or the one in environment); NotFound, InvalidInput."""

    def list_feature_definition_versions(
        self, project: str, kind: str, name: str
    ) -> list[FeatureDefinition]:
        """Every version of a definition, newest first; NotFound, InvalidInput."""

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
        """Store a feature set version's check outcomes on its source (audited); NotFound."""

    def list_feature_checks(
        self, project: str, name: str, version: int | None = None
    ) -> list[FeatureCheck]:
        """A feature set's check reports (of one version), newest first; NotFound."""

    def promote_feature_set(
        self,
        project: str,
        name: str,
        environment: str,
        *,
        version: int | None = None,
        reason: str = "",
    ) -> FeatureDefinition:
        """Move a version (None: latest) into an environment; GateFailed, NotFound, InvalidInput."""

    def materialize_feature_set(self, project: str, name: str, environment: str) -> Materialization:
        """Write each entity's latest value online (audited); NotFound, InvalidInput."""

    def online_features(
        self, project: str, name: str, keys: Sequence[str], *, environment: str = "production"
    ) -> OnlineValues:
        """Entities' online values, missing past TTL with a reason; NotFound, InvalidInput."""
