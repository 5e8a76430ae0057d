"""The feature registry operations of HttpBackend: the same calls as LocalFeatureOps, over HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from relayml.domain.data import CheckOutcome
from relayml.domain.features import FeatureCheck, FeatureDefinition, FeaturePlan

__all__ = ["HttpFeatureOps"]


def _q(part: str) -> str:
    return quote(part, safe="")


class HttpFeatureOps:
    """Feature definitions, their versions, checks and environments, sent to a relay server."""

    def _json(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # provided by HttpBackend

    def plan_features(self, project: str, specs: Sequence[dict[str, Any]]) -> FeaturePlan:
        """What applying these definitions would add or change."""
        path = f"/projects/{_q(project)}/features/plan"
        result: FeaturePlan = self._json(
            "POST", path, FeaturePlan, json={"definitions": list(specs)}
        )
        return result

    def apply_features(self, project: str, specs: Sequence[dict[str, Any]]) -> FeaturePlan:
        """Store changed definitions as new versions."""
        path = f"/projects/{_q(project)}/features/apply"
        result: FeaturePlan = self._json(
            "POST", path, FeaturePlan, json={"definitions": list(specs)}
        )
        return result

    def list_feature_definitions(
        self, project: str, kind: str | None = None
    ) -> list[FeatureDefinition]:
        """The latest version of each definition (of a kind)."""
        params = {"kind": kind} if kind is not None else {}
        path = f"/projects/{_q(project)}/features"
        result: list[FeatureDefinition] = self._json(
            "GET", path, list[FeatureDefinition], params=params
        )
        return result

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
        params: dict[str, Any] = {}
        if version is not None:
            params["version"] = version
        if environment is not None:
            params["environment"] = environment
        path = f"/projects/{_q(project)}/features/{_q(kind)}/{_q(name)}"
        result: FeatureDefinition = self._json("GET", path, FeatureDefinition, params=params)
        return result

    def list_feature_definition_versions(
        self, project: str, kind: str, name: str
    ) -> list[FeatureDefinition]:
        """Every version of a definition, newest first."""
        path = f"/projects/{_q(project)}/features/{_q(kind)}/{_q(name)}/versions"
        result: list[FeatureDefinition] = self._json("GET", path, list[FeatureDefinition])
        return result

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
        body = {
            "version": version,
            "outcomes": [CheckOutcome.model_validate(o).model_dump(mode="json") for o in outcomes],
            "rows": rows,
            "latest_event_time": latest_event_time.isoformat() if latest_event_time else None,
        }
        path = f"/projects/{_q(project)}/feature-sets/{_q(name)}/checks"
        result: FeatureCheck = self._json("POST", path, FeatureCheck, json=body)
        return result

    def list_feature_checks(
        self, project: str, name: str, version: int | None = None
    ) -> list[FeatureCheck]:
        """A feature set's check reports, newest first."""
        params = {"version": version} if version is not None else {}
        path = f"/projects/{_q(project)}/feature-sets/{_q(name)}/checks"
        result: list[FeatureCheck] = self._json("GET", path, list[FeatureCheck], params=params)
        return result

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
        body = {"environment": environment, "version": version, "reason": reason}
        path = f"/projects/{_q(project)}/feature-sets/{_q(name)}/promote"
        result: FeatureDefinition = self._json("POST", path, FeatureDefinition, json=body)
        return result
