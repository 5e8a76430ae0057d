"""The governance part of the Backend port: the audit chain, the risk views, identity."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from relayml.domain.audit_chain import AuditCheckpoint, AuditVerification
    from relayml.domain.identity import Me, NewToken, TokenInfo, User
    from relayml.domain.reports import InventoryEntry, ModelCard, ModelReport
    from relayml.domain.resources import ResourceOverview

__all__ = ["GovernancePort"]


class GovernancePort(Protocol):
    """Operations of relayml.domain.ports.Backend for auditors, risk managers and administrators.

    Same conventions as Backend: each method names the errors of relayml.errors it raises.
    """

    # the audit chain (the listing itself is Backend.list_audit)
    def verify_audit(
        self, checkpoint: AuditCheckpoint | None = None, *, public_key: str | None = None
    ) -> AuditVerification:
        """Walk the audit chain (and a signed checkpoint's place in it); InvalidInput (key)."""

    def create_audit_checkpoint(self) -> AuditCheckpoint:
        """Sign the chain's head with the server key and store it; StoreNotReady (key, head)."""

    def list_audit_checkpoints(self, limit: int = 20) -> list[AuditCheckpoint]:
        """The newest stored checkpoints first; InvalidInput (limit)."""

    def export_audit(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Audit entries matching AuditQuery's filters, oldest first, with hashes; InvalidInput."""

    # inventory and model risk reports
    def inventory(self, projects: list[str] | None = None) -> list[InventoryEntry]:
        """Models ever in staging or production (these projects; None: all visible); NotFound."""

    def set_risk_tier(self, project: str, model: str, tier: str, reason: str) -> InventoryEntry:
        """Set a model's risk tier with a reason (audited); NotFound, InvalidInput."""

    def retire_model(self, project: str, model: str, reason: str) -> InventoryEntry:
        """End a model's environments, kept in the inventory; NotFound, Conflict, InvalidInput."""

    def get_model_card(self, project: str, ref: str) -> ModelCard:
        """A version's intended use and limitations, now and every earlier text; NotFound."""

    def set_model_card(
        self,
        project: str,
        ref: str,
        *,
        intended_use: str | None = None,
        limitations: str | None = None,
    ) -> ModelCard:
        """Set a version's intended use and/or limitations (audited); NotFound, InvalidInput."""

    def build_model_report(
        self, project: str, model: str, *, version: int | None = None, fmt: str = "html"
    ) -> ModelReport:
        """Build, store and audit a version's model risk report; NotFound, InvalidInput."""

    def resource_overview(self, project: str, *, days: int = 7) -> ResourceOverview:
        """Compute, storage, serving (last `days`) and bottlenecks of a project; NotFound."""

    # identity (in-process the local user is the administrator; over HTTP the token's user)
    def whoami(self) -> Me:
        """Who this backend acts for, with roles per project; Unauthenticated without a token."""

    def list_users(self) -> list[User]:
        """Every user, by name; PermissionDenied unless an administrator."""

    def add_user(
        self,
        name: str,
        *,
        display_name: str = "",
        email: str = "",
        admin: bool = False,
        password: str | None = None,
    ) -> User:
        """Create a user; InvalidInput (name, e-mail, password), Conflict, PermissionDenied."""

    def get_user(self, name: str) -> User:
        """One user by name; NotFound, PermissionDenied unless an administrator."""

    def disable_user(self, name: str) -> User:
        """Stop a user signing in (tokens too); NotFound, InvalidInput (self), PermissionDenied."""

    def enable_user(self, name: str) -> User:
        """Let a disabled user sign in again; NotFound, PermissionDenied."""

    def set_admin(self, name: str, admin: bool) -> User:
        """Grant or take back the administrator role; NotFound, InvalidInput, PermissionDenied."""

    def set_password(self, name: str, password: str | None) -> User:
        """Set (None: remove) a password; NotFound, InvalidInput (too short), PermissionDenied."""

    def create_token(
        self,
        name: str,
        *,
        user: str | None = None,
        scopes: Sequence[str] = ("api",),
        expires_in_days: float | None = 90,
    ) -> NewToken:
        """A new token (own; ``user``'s as admin), its secret shown once; InvalidInput, NotFound."""

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        """Own tokens (or ``user``'s as admin), newest first; NotFound, PermissionDenied."""

    def revoke_token(self, token_id: int) -> TokenInfo:
        """Revoke an own token (an admin: anyone's) at once; NotFound."""
