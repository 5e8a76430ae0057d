"""Ship an A/B test's winner: promote it through the policy, then serve it alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from relayml.deployments.abresults import ab_results
from relayml.domain.ports import Backend
from relayml.domain.serving import Deployment, Variant
from relayml.errors import Conflict, GateFailed, InvalidInput, NotFound
from relayml.predictions import PredictionLogs

__all__ = ["Shipped", "promote_winner"]


@dataclass(frozen=True)
class Shipped:
    """What promote-winner did: shipped the version, or left it waiting for approval."""

    status: Literal["shipped", "pending_approval"]
    model: str
    environment: str
    version: int
    winner: str | None  # the A/B test's winning variant; None when the version was chosen by hand
    verdict: str
    message: str
    deployment: Deployment | None = None  # the new single-variant revision, once shipped
    promotion_id: int | None = None  # the promotion waiting for approval

    def to_json(self) -> dict[str, Any]:
        """The shape of `relay deploy promote-winner --json`."""
        return {
            "status": self.status,
            "model": self.model,
            "environment": self.environment,
            "version": self.version,
            "winner": self.winner,
            "verdict": self.verdict,
            "message": self.message,
            "deployment": None
            if self.deployment is None
            else self.deployment.model_dump(mode="json"),
            "promotion_id": self.promotion_id,
        }


def promote_winner(
    backend: Backend,
    logs: PredictionLogs,
    project: str,
    model: str,
    environment: str,
    metric: str | None = None,
    version: int | None = None,
) -> Shipped:
    """Move the environment's alias to the winner (gates and approvals apply), then make the
    deployment single, following the alias, so the winner gets all the traffic.
    """
    verdict = "chosen by hand"
    winner: str | None = None
    if version is None:
        report = ab_results(backend, logs, project, model, environment, metric=metric)
        if report.winner is None:
            raise InvalidInput(
                f"no winner on {report.metric} yet: {report.verdict.rstrip('.')}. To ship a "
                f"version anyway, name it: relay deploy promote-winner {model} --env "
                f"{environment} --version N."
            )
        version = next(v.version for v in report.variants if v.name == report.winner)
        verdict, winner = report.verdict, report.winner
    try:  # callers keep sending the sticky field: keep accepting it
        sticky = backend.get_deployment(project, model, environment).sticky_key
    except NotFound:
        sticky = None
    aliases = backend.get_model(project, model).aliases
    if aliases.get(environment) != version:
        try:
            promotion = backend.promote(
                project, f"{model}/{version}", environment, reason=f"A/B winner: {verdict}"
            )
        except Conflict as exc:
            raise Conflict(f"{exc.message} The deployment is unchanged.") from exc
        if promotion.status == "FAILED":
            failed = "; ".join(f"{g.name}: {g.detail}" for g in promotion.gates if not g.passed)
            raise GateFailed(
                f"{model}/{version} did not pass the {environment} gates ({failed}); the "
                "deployment is unchanged."
            )
        if promotion.status == "PENDING_APPROVAL":
            roles = ", ".join(promotion.waiting_for)
            message = (
                f"{model}/{version} won ({verdict}) and waits for approval by {roles} to enter "
                f"{environment} (promotion {promotion.id}). The deployment is unchanged; run "
                "this again once it is approved."
            )
            return Shipped(
                "pending_approval",
                model,
                environment,
                version,
                winner,
                verdict,
                message,
                promotion_id=promotion.id,
            )
    deployment = backend.deploy(
        project,
        model,
        environment,
        "single",
        [Variant(version=None, weight=100.0)],
        sticky_key=sticky,
        reason=f"promote-winner: {model}/{version} ({verdict})",
    )
    message = (
        f"{model}/{version} now serves all of {environment} (deployment revision "
        f"{deployment.revision}, following the {environment} alias); {verdict}"
    )
    return Shipped("shipped", model, environment, version, winner, verdict, message, deployment)
