"""The inventory, report and resource operations of LocalBackend (in-process, on the store)."""

from __future__ import annotations

from typing import Any

from relayml.artifacts import BlobStore
from relayml.domain.reports import InventoryEntry, ModelCard, ModelReport
from relayml.domain.resources import ResourceOverview
from relayml.predictions import PredictionLogs
from relayml.reports import builder, cards, inventory, resources
from relayml.store import Store

__all__ = ["LocalReportOps"]


class LocalReportOps:
    """The model inventory, risk tiers, retirement and model risk reports, run in this process."""

    store: Store
    blobs: BlobStore
    logs: PredictionLogs
    actor: str

    def inventory(self, projects: list[str] | None = None) -> list[InventoryEntry]:
        """Every model ever in staging or production (of these projects; None: all)."""
        for name in projects or ():
            self.get_project(name)  # type: ignore[attr-defined]  # NotFound for a typo
        return inventory.inventory(self.store, None if projects is None else set(projects))

    def set_risk_tier(self, project: str, model: str, tier: str, reason: str) -> InventoryEntry:
        """Set a model's risk tier, with the reason."""
        return inventory.set_risk_tier(self.store, self.actor, project, model, tier, reason)

    def retire_model(self, project: str, model: str, reason: str) -> InventoryEntry:
        """Retire a model: its environments end, it stays in the inventory."""
        return inventory.retire_model(self.store, self.actor, project, model, reason)

    def get_model_card(self, project: str, ref: str) -> ModelCard:
        """A version's intended use and limitations, now and every earlier text."""
        return cards.get_card(self.store, project, ref)

    def set_model_card(
        self,
        project: str,
        ref: str,
        *,
        intended_use: str | None = None,
        limitations: str | None = None,
    ) -> ModelCard:
        """Set a version's intended use and/or limitations (audited)."""
        return cards.set_card(
            self.store, self.actor, project, ref, intended_use=intended_use, limitations=limitations
        )

    def build_model_report(
        self, project: str, model: str, *, version: int | None = None, fmt: str = "html"
    ) -> ModelReport:
        """Build, store and audit the model risk report of a version."""
        backend: Any = self
        return builder.build_model_report(
            backend, self.logs, self.store, self.blobs, project, model, version=version, fmt=fmt
        )

    def resource_overview(self, project: str, *, days: int = 7) -> ResourceOverview:
        """Compute, storage and serving of a project over the last days, and the bottlenecks."""
        return resources.resource_overview(self.store, self.blobs, self.logs, project, days=days)
