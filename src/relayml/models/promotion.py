"""Promotions: policies (versioned), gates, approvals, and moving a version into an environment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from relayml.domain.clock import now_ms
from relayml.domain.models import (
    ENVIRONMENTS,
    Approval,
    GateResult,
    ModelRef,
    Promotion,
    parse_model_ref,
)
from relayml.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from relayml.governance import audit
from relayml.models.evaluations import latest_evaluation, version_of
from relayml.models.policy import EnvironmentPolicy, Policy, evaluate_checks, parse_policy
from relayml.models.registry import current_aliases, model_row, move_alias, version_row
from relayml.projects import project_id
from relayml.projects.members import roles_of
from relayml.store import Store
from relayml.store.schema import alias_history, model_versions
from relayml.store.schema_promotion import approvals, evaluations, policies, promotions
from relayml.store.versioned import insert_revision

__all__ = ["check", "decide", "get_policy", "list_promotions", "promote", "set_policy"]


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


def _policy(conn: Connection, pid: int) -> tuple[int | None, Policy]:
    row = conn.execute(
        select(policies.c.revision, policies.c.document)
        .where(policies.c.project_id == pid)
        .order_by(policies.c.revision.desc())
        .limit(1)
    ).first()
    if row is None:
        return None, Policy()
    return int(row.revision), parse_policy(row.document)


def get_policy(store: Store, project: str) -> tuple[int | None, Policy, str]:
    """The project's current policy, its revision (None: no policy yet) and its source text."""
    with store.read() as conn:
        pid = project_id(conn, project)
        revision, policy = _policy(conn, pid)
        source = conn.execute(
            select(policies.c.source).where(
                policies.c.project_id == pid, policies.c.revision == revision
            )
        ).scalar()
        return revision, policy, source or ""


def _held(conn: Connection, model_id: int, version: int, environment: str) -> bool:
    found = conn.execute(
        select(alias_history.c.id).where(
            alias_history.c.model_id == model_id,
            alias_history.c.alias == environment,
            alias_history.c.version == version,
        )
    ).first()
    return found is not None


def _gates(
    conn: Connection, pid: int, project: str, ref: ModelRef, environment: str
) -> tuple[Any, Any, int | None, EnvironmentPolicy, list[GateResult]]:
    if environment not in ENVIRONMENTS:
        raise InvalidInput(
            f"unknown environment {environment!r}; use one of {', '.join(ENVIRONMENTS)}."
        )
    row = version_row(conn, project, pid, ref)
    model = model_row(conn, pid, project, ref.name)
    revision, policy = _policy(conn, pid)
    rules = policy.environments.get(environment, EnvironmentPolicy())
    results: list[GateResult] = []
    for required in rules.requires:
        held = _held(conn, model.id, row.version, required)
        results.append(
            GateResult(
                name=f"passed through {required}",
                passed=held,
                detail=f"{model.name}/{row.version} "
                + ("has been in " if held else "has never been in ")
                + required,
            )
        )
    dataset = policy.evaluation.get("dataset")
    evaluation = latest_evaluation(conn, row.id, model.name, row.version, dataset)
    incumbent = None
    current = current_aliases(conn, model.id).get(environment)
    if current is not None and evaluation is not None:
        inc_row = version_row(conn, project, pid, ModelRef(name=model.name, version=current))
        incumbent = latest_evaluation(conn, inc_row.id, model.name, current, evaluation.dataset)
    found: list[str] = []
    if evaluation is None and dataset and rules.checks:
        found = evaluated_datasets(conn, row.id)
    results += evaluate_checks(rules.checks, evaluation, incumbent, wanted=dataset, found=found)
    return row, model, revision, rules, results


def evaluated_datasets(conn: Connection, version_id: int) -> list[str]:
    """The names of the datasets a version was evaluated on, newest first, once each."""
    rows = conn.execute(
        select(evaluations.c.dataset)
        .where(evaluations.c.version_id == version_id)
        .order_by(evaluations.c.id.desc())
        .limit(1000)
    )
    return list(dict.fromkeys(str(r.dataset) for r in rows))[:10]


def check(
    store: Store, project: str, ref: str, environment: str
) -> tuple[list[GateResult], list[str]]:
    """Run the gates for a promotion without changing anything: results and approvals needed."""
    parsed = parse_model_ref(ref)
    with store.read() as conn:
        _, _, _, rules, results = _gates(
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
        waiting_for=_waiting_for(
            (policy or Policy()).environments.get(row.environment, EnvironmentPolicy()),
            given,
        )
        if row.status == "PENDING_APPROVAL"
        else [],
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=audit.to_datetime(row.requested_at),
        decided_at=audit.to_datetime(row.decided_at),
    )


def _waiting_for(rules: EnvironmentPolicy, given: list[Approval]) -> list[str]:
    missing = []
    for rule in rules.approvals:
        have = sum(1 for a in given if a.role == rule.role and a.decision == "approve")
        if have < rule.count:
            missing.append(rule.role)
    return missing


def promote(
    store: Store, actor: str, project: str, ref: str, environment: str, reason: str = ""
) -> Promotion:
    """Run the gates, store every result, then promote, wait for approval, or fail."""
    parsed = parse_model_ref(ref)
    with store.write() as conn:
        pid = project_id(conn, project)
        row, model, revision, rules, results = _gates(conn, pid, project, parsed, environment)
        if current_aliases(conn, model.id).get(environment) == row.version:
            raise Conflict(f"{model.name}/{row.version} is already in {environment}.")
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
        if status == "PROMOTED":
            move_alias(conn, actor, project, model, environment, row.version, reason)
        stored = conn.execute(select(promotions).where(promotions.c.id == promotion_id)).one()
        return _load(conn, stored, _policy(conn, pid)[1])


def decide(
    store: Store,
    actor: str,
    project: str,
    ref: str,
    environment: str,
    decision: str,
    comment: str = "",
) -> Promotion:
    """Approve or reject the promotion of a version that waits for approval."""
    if decision not in ("approve", "reject"):
        raise InvalidInput("a decision is 'approve' or 'reject'.")
    parsed = parse_model_ref(ref)
    with store.write() as conn:
        pid = project_id(conn, project)
        row = version_row(conn, project, pid, parsed)
        model = model_row(conn, pid, project, parsed.name)
        waiting = conn.execute(
            select(promotions).where(
                promotions.c.version_id == row.id,
                promotions.c.environment == environment,
                promotions.c.status == "PENDING_APPROVAL",
            )
        ).first()
        if waiting is None:
            raise NotFound(
                f"{model.name}/{row.version} does not wait for approval to enter {environment}; "
                f"request it with `relay models promote {model.name}/{row.version} --to "
                f"{environment}`."
            )
        _, policy = _policy(conn, pid)
        rules = policy.environments.get(environment, EnvironmentPolicy())
        role = _approver_role(conn, pid, actor, row, rules, model.name)
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
            entity_id=f"{project}/{model.name}/{row.version}",
            after={"promotion": waiting.id, "environment": environment, "comment": comment},
        )
        current = _load(conn, waiting, policy)
        missing = _waiting_for(rules, current.approvals)
        status = "REJECTED" if decision == "reject" else ("PROMOTED" if not missing else None)
        if status is not None:
            conn.execute(
                update(promotions)
                .where(promotions.c.id == waiting.id)
                .values(status=status, decided_at=now_ms())
            )
            if status == "PROMOTED":
                move_alias(conn, actor, project, model, environment, row.version, waiting.reason)
        stored = conn.execute(select(promotions).where(promotions.c.id == waiting.id)).one()
        return _load(conn, stored, policy)


def _approver_role(
    conn: Connection, pid: int, actor: str, row: Any, rules: EnvironmentPolicy, model: str
) -> str:
    held = roles_of(conn, pid, actor)
    allowed = [r for r in rules.approvals if r.role in held]
    if not rules.approvals:
        return sorted(held)[0] if held else "member"
    if not allowed:
        needed = ", ".join(r.role for r in rules.approvals)
        raise PermissionDenied(
            f"{actor} cannot decide on {model}/{row.version}: this needs the role {needed}, "
            f"and {actor} has {', '.join(sorted(held)) or 'no role'} in the project."
        )
    if all(r.not_author for r in allowed) and row.created_by == actor:
        raise PermissionDenied(
            f"{actor} logged {model}/{row.version} and so cannot approve it: "
            "another person holding the role must decide."
        )
    return allowed[0].role


def list_promotions(store: Store, project: str, name: str) -> list[Promotion]:
    """Every promotion request of a model's versions, oldest first."""
    with store.read() as conn:
        pid = project_id(conn, project)
        model = model_row(conn, pid, project, name)
        _, policy = _policy(conn, pid)
        rows = conn.execute(
            select(promotions)
            .join(model_versions, model_versions.c.id == promotions.c.version_id)
            .where(model_versions.c.model_id == model.id)
            .order_by(promotions.c.id)
        )
        return [_load(conn, r, policy) for r in rows]
