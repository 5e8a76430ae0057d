"""The inventory and report operations of HttpBackend: the same calls as LocalReportOps."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from relayml.domain.reports import InventoryEntry, ModelCard, ModelReport
from relayml.domain.resources import ResourceOverview
from relayml.errors import MissingDependency

__all__ = ["HttpReportOps"]


def _q(part: str) -> str:
    return quote(part, safe="")


class HttpReportOps:
    """The model inventory, risk tiers, retirement and model risk reports, on a relay server."""

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # provided by HttpBackend

    def _json(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # provided by HttpBackend

    def inventory(self, projects: list[str] | None = None) -> list[InventoryEntry]:
        """Every model ever in staging or production that the caller may see."""
        params = {"project": projects} if projects is not None else None
        entries: list[InventoryEntry] = self._json(
            "GET", "/inventory", list[InventoryEntry], params=params
        )
        return entries

    def set_risk_tier(self, project: str, model: str, tier: str, reason: str) -> InventoryEntry:
        """Set a model's risk tier, with the reason."""
        path = f"/projects/{_q(project)}/models/{_q(model)}/risk-tier"
        entry: InventoryEntry = self._json(
            "PUT", path, InventoryEntry, json={"tier": tier, "reason": reason}
        )
        return entry

    def retire_model(self, project: str, model: str, reason: str) -> InventoryEntry:
        """Retire a model: its environments end, it stays in the inventory."""
        path = f"/projects/{_q(project)}/models/{_q(model)}/retire"
        entry: InventoryEntry = self._json("POST", path, InventoryEntry, json={"reason": reason})
        return entry

    def get_model_card(self, project: str, ref: str) -> ModelCard:
        """A version's intended use and limitations, now and every earlier text."""
        card: ModelCard = self._json(
            "GET", f"/projects/{_q(project)}/model-card", ModelCard, params={"ref": ref}
        )
        return card

    def set_model_card(
        self,
        project: str,
        ref: str,
        *,
        intended_use: str | None = None,
        limitations: str | None = None,
    ) -> ModelCard:
        """Set a version's intended use and/or limitations on the server (audited)."""
        body = {"ref": ref, "intended_use": intended_use, "limitations": limitations}
        card: ModelCard = self._json(
            "PUT", f"/projects/{_q(project)}/model-card", ModelCard, json=body
        )
        return card

    def build_model_report(
        self, project: str, model: str, *, version: int | None = None, fmt: str = "html"
    ) -> ModelReport:
        """Build, store and audit the model risk report of a version on the server."""
        path = f"/projects/{_q(project)}/models/{_q(model)}/reports"
        body = {"version": version, "format": fmt}
        try:
            report: ModelReport = self._json("POST", path, ModelReport, json=body)
        except MissingDependency as exc:  # the server builds the file: it lacks the package
            raise MissingDependency(
                f"the relay server cannot build this report: {exc.message} (on the server)"
            ) from exc
        return report

    def resource_overview(self, project: str, *, days: int = 7) -> ResourceOverview:
        """Compute, storage, serving and bottlenecks of a project, computed on the server."""
        path = f"/projects/{_q(project)}/resources"
        found: ResourceOverview = self._json("GET", path, ResourceOverview, params={"days": days})
        return found
