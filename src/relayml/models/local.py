"""The model operations of LocalBackend (in-process, on the store and the blob store)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from relayml.domain.models import (
    Evaluation,
    GateReport,
    ModelFile,
    ModelHistory,
    ModelVersion,
    PolicyInfo,
    Promotion,
    RegisteredModel,
    Signature,
    parse_model_ref,
)
from relayml.models import evaluations, registry
from relayml.projects import members
from relayml.store import Store

if TYPE_CHECKING:
    from relayml.artifacts import BlobStore

__all__ = ["LocalModelOps"]


class LocalModelOps:
    """Registry, evaluations, policies, promotions and members, run in this process."""

    store: Store
    blobs: BlobStore
    actor: str

    # blobs
    def upload_blob(self, source: str | Path | IO[bytes]) -> tuple[str, int]:
        """Store bytes by content hash; returns (sha256, size)."""
        if isinstance(source, str | Path):
            return self.blobs.put_file(source)
        return self.blobs.put_stream(source)

    def fetch_blob(self, sha256: str, dest: str | Path) -> Path:
        """Write a verified blob to dest."""
        return self.blobs.get_file(sha256, dest)

    # members
    def add_member(self, project: str, user: str, role: str) -> None:
        """Give a user a role in a project."""
        members.add_member(self.store, self.actor, project, user, role)

    def list_members(self, project: str) -> dict[str, list[str]]:
        """Each member of a project with their roles."""
        return members.list_members(self.store, project)

    # registry
    def create_model_version(
        self,
        project: str,
        name: str,
        *,
        flavor: str,
        files: Sequence[ModelFile],
        signature: Signature,
        requirements: Sequence[str],
        details: dict[str, Any] | None = None,
        run_id: str | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Register a version whose files are uploaded already."""
        return registry.create_version(
            self.store,
            self.blobs,
            self.actor,
            project,
            name,
            flavor=flavor,
            files=files,
            signature=signature,
            requirements=requirements,
            details=details,
            run_id=run_id,
            description=description,
        )

    def get_model(self, project: str, name: str) -> RegisteredModel:
        """A registered model."""
        return registry.get_model(self.store, project, name)

    def list_models(self, project: str) -> list[RegisteredModel]:
        """A project's registered models."""
        return registry.list_models(self.store, project)

    def get_model_version(self, project: str, ref: str) -> ModelVersion:
        """The version a reference names."""
        return registry.get_version(self.store, project, ref)

    def list_model_versions(self, project: str, name: str) -> list[ModelVersion]:
        """A model's versions, newest first."""
        return registry.list_versions(self.store, project, name)

    def model_history(self, project: str, name: str) -> ModelHistory:
        """Which version held which environment, and every promotion request."""
        from relayml.models import promotion  # the gates: loaded when used

        return ModelHistory(
            model=name,
            aliases=registry.alias_events(self.store, project, name),
            promotions=promotion.list_promotions(self.store, project, name),
        )

    # evaluations
    def create_evaluation(self, project: str, ref: str, result: dict[str, Any]) -> Evaluation:
        """Store an evaluation computed by relayml.models.evaluation."""
        return evaluations.create_evaluation(self.store, self.actor, project, ref, result)

    def list_evaluations(self, project: str, ref: str) -> list[Evaluation]:
        """A version's evaluations, newest first."""
        return evaluations.list_evaluations(self.store, project, ref)

    # policy and promotions
    def set_policy(self, project: str, source: str) -> PolicyInfo:
        """Store a new revision of the project's policy (YAML text)."""
        from relayml.models import promotion  # the gates: loaded when used

        revision, policy = promotion.set_policy(self.store, self.actor, project, source)
        return PolicyInfo(
            project=project,
            revision=revision,
            document=policy.model_dump(mode="json"),
            source=source,
        )

    def get_policy(self, project: str) -> PolicyInfo:
        """The project's current policy."""
        from relayml.models import promotion  # the gates: loaded when used

        revision, policy, source = promotion.get_policy(self.store, project)
        return PolicyInfo(
            project=project,
            revision=revision,
            document=policy.model_dump(mode="json"),
            source=source,
        )

    def promote(self, project: str, ref: str, environment: str, reason: str = "") -> Promotion:
        """Request a promotion: gates, then promoted, pending approval, or failed."""
        from relayml.models import promotion  # the gates: loaded when used

        return promotion.promote(self.store, self.actor, project, ref, environment, reason)

    def decide_promotion(
        self, project: str, ref: str, environment: str, decision: str, comment: str = ""
    ) -> Promotion:
        """Approve or reject a promotion that waits for approval."""
        from relayml.models import promotion  # the gates: loaded when used

        return promotion.decide(
            self.store, self.actor, project, ref, environment, decision, comment
        )

    def check_promotion(self, project: str, ref: str, environment: str) -> GateReport:
        """Run the gates of a promotion without changing anything."""
        from relayml.models import promotion  # the gates: loaded when used

        gates, needed = promotion.check(self.store, project, ref, environment)
        version = registry.get_version(self.store, project, parse_model_ref(ref))
        return GateReport(
            model=version.model,
            version=version.version,
            environment=environment,
            gates=gates,
            approvals_needed=needed,
        )
