"""Ship an A/B test's winner: promote it through the policy, then serve it alone."""

from __future__ import annotations

from relayml.deployments.abresults import ab_results
from relayml.domain.ports import Backend
from relayml.domain.serving import Variant
from relayml.errors import Conflict, GateFailed, InvalidInput, NotFound
from relayml.predictions import PredictionLogs

__all__ = ["promote_winner"]


def promote_winner(
    backend: Backend,
    logs: PredictionLogs,
    project: str,
    model: str,
    environment: str,
    metric: str | None = None,
    version: int | None = None,
) -> str:
    """Move the environment's alias to the winner (gates and approvals apply), then make the
    deployment single so the winner gets all the traffic. Returns what happened, in a sentence.
    """
    verdict = "chosen by hand"
    if version is None:
        report = ab_results(backend, logs, project, model, environment, metric=metric)
        if report.winner is None:
            raise InvalidInput(
                f"no winner on {report.metric} yet: {report.verdict}. To ship a version anyway, "
                "name it: relay deploy promote-winner "
                f"{model} --env {environment} --version N."
            )
        version = next(v.version for v in report.variants if v.name == report.winner)
        verdict = report.verdict
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
            return (
                f"{model}/{version} won ({verdict}) and waits for approval by {roles} to enter "
                f"{environment} (promotion {promotion.id}). The deployment is unchanged; run "
                "this again once it is approved."
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
    return (
        f"{model}/{version} now serves all of {environment} (deployment revision "
        f"{deployment.revision}); {verdict}"
    )
