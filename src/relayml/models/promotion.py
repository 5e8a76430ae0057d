"""Promotions: policies (versioned), gates, approvals, and moving a version into an environment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from relayml.deployments.follow import fold_promoted
from relayml.domain.clock import now_ms
from relayml.domain.models import Approval, GateResult, Promotion, parse_model_ref
from relayml.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from relayml.governance import audit
from relayml.models.approval import decider, record_refusal
from relayml.models.evaluations import version_of
from relayml.models.gates import gate_results, policy_of, split_target, target_rules, waiting_for
from relayml.models.policy import Policy, parse_policy, rules_for
from relayml.models.registry import current_aliases, model_row, move_alias, version_row
from relayml.projects import project_id
from relayml.store import Store
from relayml.store.schema import model_versions
from relayml.store.schema_promotion import approvals, policies, promotions
from relayml.store.versioned import insert_revision

__all__ = [
    "check",
    "decide",
    "get_policy",
    "list_promotions",
    "promote",
    "promote_command",
    "set_policy",
]


def set_policy(store: Store, actor: str, project: str, source: str) -> tuple[int, Policy]:
    """Store a new revision of the project's policy from YAML (or JSON) text."""
    import yaml  # only to read a policy

    try:
        document = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the policy is not valid YAML: {exc}") from exc
    policy = parse_policy(document)
    with store.write() as conn:
        pid = project_id(conn, project)
        stored = policy.model_dump(mode="json", exclude_defaults=True)
        revision = insert_revision(conn, policies, {"project_id": pid}, stored, source, actor)
        audit.record(
            conn,
            actor=actor,
            action="project.set_policy",
            entity_kind="project",
            entity_id=project,
            after={"revision": revision, "policy": policy.model_dump(mode="json")},
        )
    return revision, policy


def get_policy(store: Store, project: str) -> tuple[int | None, Policy, str]:
    """The project's current policy, its revision (None: no policy yet) and its source text."""
    with store.read() as conn:
        pid = project_id(conn, project)
        revision, policy = policy_of(conn, pid)
        source = conn.execute(
            select(policies.c.source).where(
                policies.c.project_id == pid, policies.c.revision == revision
            )
        ).scalar()
        return revision, policy, source or ""


def check(
    store: Store, project: str, ref: str, environment: str
) -> tuple[list[GateResult], list[str]]:
    """Run the gates for a promotion without changing anything: results and approvals needed."""
    parsed = parse_model_ref(ref)
    with store.read() as conn:
        _, _, _, rules, results = gate_results(
            conn, project_id(conn, project), project, parsed, environment
        )
    return results, [f"{r.count} x {r.role}" for r in rules.approvals]


def _load(conn: Connection, row: Any, policy: Policy | None = None) -> Promotion:
    model, version = version_of(conn, row.version_id)
    decisions = conn.execute(
        select(approvals).where(approvals.c.promotion_id == row.id).order_by(approvals.c.id)
    )
    given = [
        Approval(
            user=a.user,
            role=a.role,
            decision=a.decision,
            comment=a.comment,
            at=audit.to_datetime(a.at),
        )
        for a in decisions
    ]
    return Promotion(
        id=row.id,
        model=model,
        version=version,
        environment=row.environment,
        status=row.status,
        policy_revision=row.policy_revision,
        gates=[GateResult(**g) for g in row.gates],
        approvals=given,
        waiting_for=_still_waiting(policy or Policy(), row.environment, given)
        if row.status == "PENDING_APPROVAL"
        else [],
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=audit.to_datetime(row.requested_at),
        decided_at=audit.to_datetime(row.decided_at),
    )


def _still_waiting(policy: Policy, target: str, given: list[Approval]) -> list[str]:
    rules = rules_for(policy, target)
    return waiting_for(rules, given) if rules is not None else []


def promote(
    store: Store, actor: str, project: str, ref: str, environment: str, reason: str = ""
) -> Promotion:
    """Run the gates, store every result, then promote, wait for approval, or fail.

    ``environment`` may name a stage (``production:canary``): then a PROMOTED promotion clears
    the version to answer a share of the environment's traffic and moves no alias.
    """
    parsed = parse_model_ref(ref)
    place, stage = split_target(environment)
    with store.write() as conn:
        pid = project_id(conn, project)
        row, model, revision, rules, results = gate_results(conn, pid, project, parsed, environment)
        if current_aliases(conn, model.id).get(place) == row.version:
            needless = f"; as the holder it needs no {stage} clearance" if stage else ""
            raise Conflict(f"{model.name}/{row.version} is already in {place}{needless}.")
        pending = conn.execute(
            select(promotions.c.id).where(
                promotions.c.version_id == row.id,
                promotions.c.environment == environment,
                promotions.c.status == "PENDING_APPROVAL",
            )
        ).first()
        if pending is not None:
            raise Conflict(
                f"{model.name}/{row.version} already waits for approval to enter {environment} "
                f"(promotion {pending.id}); approve or reject it first."
            )
        failed = [g for g in results if not g.passed]
        status = "FAILED" if failed else ("PENDING_APPROVAL" if rules.approvals else "PROMOTED")
        now = now_ms()
        inserted = conn.execute(
            promotions.insert().values(
                version_id=row.id,
                environment=environment,
                status=status,
                policy_revision=revision,
                gates=[g.model_dump(mode="json") for g in results],
                reason=reason,
                requested_by=actor,
                requested_at=now,
                decided_at=None if status == "PENDING_APPROVAL" else now,
            )
        )
        promotion_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
        audit.record(
            conn,
            actor=actor,
            action="model.request_promotion",
            entity_kind="model_version",
            entity_id=f"{project}/{model.name}/{row.version}",
            after={"promotion": promotion_id, "environment": environment, "status": status},
        )
        if status == "PROMOTED" and stage is None:
            _enter(conn, actor, project, model, place, row.version, reason)
        stored = conn.execute(select(promotions).where(promotions.c.id == promotion_id)).one()
        return _load(conn, stored, policy_of(conn, pid)[1])


def _enter(
    conn: Connection, actor: str, project: str, model: Any, environment: str, version: int, why: str
) -> None:
    """Move the environment's alias, and fold a variant that pinned the version into it."""
    move_alias(conn, actor, project, model, environment, version, why)
    fold_promoted(conn, actor, project, model, environment, version)


def decide(
    store: Store,
    actor: str,
    project: str,
    ref: str,
    environment: str,
    decision: str,
    comment: str = "",
) -> Promotion:
    """Approve or reject the promotion of a version that waits for approval.

    A refused decider (models/approval.py says who may decide) gets PermissionDenied; the
    attempt is audited as "promotion.refused" and nothing else changes.
    """
    if decision not in ("approve", "reject"):
        raise InvalidInput("a decision is 'approve' or 'reject'.")
    parsed = parse_model_ref(ref)
    place, stage = split_target(environment)
    with store.write() as conn:
        pid = project_id(conn, project)
        row = version_row(conn, project, pid, parsed)
        model = model_row(conn, pid, project, parsed.name)
        name = f"{model.name}/{row.version}"
        waiting = conn.execute(
            select(promotions).where(
                promotions.c.version_id == row.id,
                promotions.c.environment == environment,
                promotions.c.status == "PENDING_APPROVAL",
            )
        ).first()
        if waiting is None:
            raise NotFound(
                f"{name} does not wait for approval to enter {environment}; request it with "
                f"`{promote_command(model.name, row.version, environment)}`."
            )
        _, policy = policy_of(conn, pid)
        rules = target_rules(policy, environment, model.name, row.version)
        current = _load(conn, waiting, policy)
        who = decider(conn, pid, project, actor, row, name, environment, rules, current.approvals)
        if who.refused is not None:
            record_refusal(conn, actor, project, name, environment, decision, who.refused)
        else:
            _record_decision(conn, actor, project, name, waiting, who.role or "", decision, comment)
            current = _load(conn, waiting, policy)
            missing = waiting_for(rules, current.approvals)
            status = "REJECTED" if decision == "reject" else ("PROMOTED" if not missing else None)
            if status is not None:
                conn.execute(
                    update(promotions)
                    .where(promotions.c.id == waiting.id)
                    .values(status=status, decided_at=now_ms())
                )
                if status == "PROMOTED" and stage is None:
                    _enter(conn, actor, project, model, place, row.version, waiting.reason)
            stored = conn.execute(select(promotions).where(promotions.c.id == waiting.id)).one()
            return _load(conn, stored, policy)
    raise PermissionDenied(who.refused)


def _record_decision(
    conn: Connection,
    actor: str,
    project: str,
    name: str,
    waiting: Any,
    role: str,
    decision: str,
    comment: str,
) -> None:
    conn.execute(
        approvals.insert().values(
            promotion_id=waiting.id,
            user=actor,
            role=role,
            decision=decision,
            comment=comment,
            at=now_ms(),
        )
    )
    audit.record(
        conn,
        actor=actor,
        action=f"model.{decision}",
        entity_kind="model_version",
        entity_id=f"{project}/{name}",
        after={"promotion": waiting.id, "environment": waiting.environment, "comment": comment},
    )


def promote_command(model: str, version: int, target: str) -> str:
    """The command that asks for a promotion into a target (an environment or a stage)."""
    place, stage = split_target(target)
    flag = f" --{stage}" if stage else ""
    return f"relay models promote {model}/{version} --to {place}{flag}"


def list_promotions(store: Store, project: str, name: str) -> list[Promotion]:
    """Every promotion request of a model's versions, oldest first."""
    with store.read() as conn:
        pid = project_id(conn, project)
        model = model_row(conn, pid, project, name)
        _, policy = policy_of(conn, pid)
        rows = conn.execute(
            select(promotions)
            .join(model_versions, model_versions.c.id == promotions.c.version_id)
            .where(model_versions.c.model_id == model.id)
            .order_by(promotions.c.id)
        )
        return [_load(conn, r, policy) for r in rows]
