"""The audit chain's operations of LocalBackend: verify, checkpoint, list checkpoints, export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from relayml.domain.audit_chain import AuditCheckpoint, AuditVerification
from relayml.domain.entities import AuditQuery
from relayml.errors import InvalidInput
from relayml.governance import audit, checkpoints

if TYPE_CHECKING:
    from relayml.config import Settings
    from relayml.store import Store

__all__ = ["LocalAuditOps"]


class LocalAuditOps:
    """The audit chain, in this process, on the configured store and key file."""

    settings: Settings
    store: Store
    actor: str

    def verify_audit(
        self, checkpoint: AuditCheckpoint | None = None, *, public_key: str | None = None
    ) -> AuditVerification:
        """Walk the audit chain; with a checkpoint, check its signature and place in it."""
        return checkpoints.verify_audit(
            self.store, self.settings.resolved_audit_key_file, checkpoint, public_key
        )

    def create_audit_checkpoint(self) -> AuditCheckpoint:
        """Sign the chain's head with the server key and store the checkpoint."""
        made = checkpoints.create_checkpoint(
            self.store, self.settings.resolved_audit_key_file, self.actor
        )
        assert made is not None
        return made

    def list_audit_checkpoints(self, limit: int = 20) -> list[AuditCheckpoint]:
        """The newest stored checkpoints first."""
        return checkpoints.list_checkpoints(
            self.store, self.settings.resolved_audit_key_file, limit
        )

    def export_audit(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every matching audit entry, oldest first, with its hash (streamed in pages)."""
        try:
            query = AuditQuery(**{k: v for k, v in filters.items() if v is not None})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "filters"
            raise InvalidInput(
                f"the audit export's filter {where} is wrong: {first.get('msg')}; filters are "
                "since, until (epoch ms), actor, kind, entity_kind and entity_id."
            ) from None
        return audit.iter_entries(self.store, query)
