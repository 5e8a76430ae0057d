"""May a version answer an environment's traffic? The policy check every deployment passes.

The version that holds an environment (its alias, what `relay models list` shows) got there
through a promotion that passed the environment's rules; its variant always follows the alias.
Any other version in a deployment is a challenger: a live variant (canary, A/B) must satisfy the
environment's ``canary`` rule and take less than 100% (at most ``max_weight``); a shadow must
satisfy its ``shadow`` rule. A rule's requires and checks are run now; its approvals are those of
a promotion into the stage (``relay models promote churn/4 --to production --canary``) that was
PROMOTED and whose approvals still satisfy the rule.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from relayml.domain.models import ModelRef
from relayml.domain.serving import Variant
from relayml.errors import GateFailed
from relayml.models.gates import gate_results
from relayml.models.policy import Rules, StageRule
from relayml.store.schema_promotion import approvals, promotions

__all__ = ["admit"]


def admit(
    conn: Connection,
    pid: int,
    project: str,
    model: str,
    environment: str,
    variants: list[Variant],
    holder: int | None,
) -> list[Variant]:
    """The variants as stored (the holder's follows the alias), or GateFailed naming the fix."""
    stored: list[Variant] = []
    for variant in variants:
        version = variant.version if variant.version is not None else holder
        if version is not None and version == holder:
            stored.append(Variant(version=None, weight=variant.weight, mode=variant.mode))
            continue
        assert version is not None  # a variant following no alias was refused before
        stage = "shadow" if variant.mode == "shadow" else "canary"
        _admit_challenger(conn, pid, project, model, environment, version, stage, variant.weight)
        stored.append(variant)
    if not any(v.version is None and v.mode == "live" and v.weight > 0 for v in stored):
        raise GateFailed(
            f"the version that holds {environment} ({model}/{holder}) must answer a share of its "
            f"traffic: every other version only joins it as a canary, A/B variant or shadow. "
            f"To serve another version alone, promote it: `relay models promote {model}/N --to "
            f"{environment}` (or `relay deploy {model} --env {environment} --version N`)."
        )
    return stored


def _admit_challenger(
    conn: Connection,
    pid: int,
    project: str,
    model: str,
    environment: str,
    version: int,
    stage: str,
    weight: float,
) -> None:
    target = f"{environment}:{stage}"
    ref = ModelRef(name=model, version=version)
    row, _, _, rules, results = gate_results(conn, pid, project, ref, target)
    name, problems, fixes = f"{model}/{version}", [], []
    for gate in results:
        if gate.passed:
            continue
        problems.append(f"{gate.name}: {gate.detail.rstrip('.')}")
        if gate.name.startswith("passed through "):
            place = gate.name.removeprefix("passed through ")
            fixes.append(f"`relay models promote {name} --to {place}`")
    limit = rules.max_weight if isinstance(rules, StageRule) else None
    if stage == "canary" and (weight >= 100 or (limit is not None and weight > limit)):
        most = f"{limit:g}%" if limit is not None else "less than 100%"
        problems.append(f"it would take {weight:g}% of the traffic, and a canary takes {most}")
        fixes.append("a smaller share")
    missing = _approvals_missing(conn, row.id, target, rules)
    if missing:
        problems.append(f"it has not been cleared by {', '.join(missing)}")
        fixes.append(
            f"`relay models promote {name} --to {environment} --{stage}`, then `relay models "
            f"approve {name} --env {environment} --{stage}` by {' and '.join(missing)}"
        )
    if problems:
        raise GateFailed(
            f"{name} does not hold {environment} and may not be a {stage} there: "
            f"{'; '.join(problems)}. Fix: {', '.join(fixes) or 'see the failing gates'}; the "
            "deployment is unchanged."
        )


def _approvals_missing(conn: Connection, version_id: int, target: str, rules: Rules) -> list[str]:
    """The roles still to approve, judged on the newest PROMOTED clearance of the target."""
    if not rules.approvals:
        return []
    cleared = conn.execute(
        select(promotions.c.id)
        .where(
            promotions.c.version_id == version_id,
            promotions.c.environment == target,
            promotions.c.status == "PROMOTED",
        )
        .order_by(promotions.c.id.desc())
        .limit(1)
    ).first()
    given: list[Any] = []
    if cleared is not None:
        given = list(
            conn.execute(
                select(approvals.c.role).where(
                    approvals.c.promotion_id == cleared.id, approvals.c.decision == "approve"
                )
            )
        )
    missing = []
    for rule in rules.approvals:
        if sum(1 for g in given if g.role == rule.role) < rule.count:
            missing.append(rule.role)
    return missing
