"""The gates of a promotion target, computed inside the caller's transaction.

A target is an environment (``production``: the version would hold it) or an environment and a
stage (``production:canary``: the version would answer a share of its traffic without holding
it; ``production:shadow``: it would get a copy of its requests). The policy's rules for the
target say which environments the version must have been in, which checks its evaluation must
pass, and who must approve (approvals are counted by promotion.py and admission.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from relayml.domain.models import Approval, GateResult, ModelRef, parse_model_ref
from relayml.errors import GateFailed
from relayml.models.evaluations import latest_evaluation
from relayml.models.policy import Policy, Rules, evaluate_checks, parse_policy, rules_for
from relayml.models.policy import split_target as split_target
from relayml.models.registry import current_aliases, model_row, version_row
from relayml.store.schema import alias_history
from relayml.store.schema_promotion import evaluations, policies

__all__ = [
    "evaluated_datasets",
    "gate_results",
    "policy_of",
    "split_target",
    "target_rules",
    "waiting_for",
]


def policy_of(conn: Connection, pid: int) -> tuple[int | None, Policy]:
    """The project's newest policy and its revision (None, empty policy: none yet)."""
    row = conn.execute(
        select(policies.c.revision, policies.c.document)
        .where(policies.c.project_id == pid)
        .order_by(policies.c.revision.desc())
        .limit(1)
    ).first()
    if row is None:
        return None, Policy()
    return int(row.revision), parse_policy(row.document)


def target_rules(policy: Policy, target: str, model: str, version: int) -> Rules:
    """The rules of a target, or GateFailed when the policy admits no version there."""
    rules = rules_for(policy, target)
    if rules is not None:
        return rules
    environment, stage = split_target(target)
    return _no_stage(environment, stage or "", model, version)


def _no_stage(environment: str, stage: str, model: str, version: int) -> Rules:
    raise GateFailed(
        f"the {environment} policy sets no `{stage}` rule, so only the version that holds "
        f"{environment} may answer its traffic and {model}/{version} may not be a {stage} there. "
        f"Promote it (`relay models promote {model}/{version} --to {environment}`), or add a "
        f"`{stage}` rule under environments.{environment} (docs/models.md, `relay policy set`)."
    )


def _held(conn: Connection, model_id: int, version: int, environment: str) -> bool:
    found = conn.execute(
        select(alias_history.c.id).where(
            alias_history.c.model_id == model_id,
            alias_history.c.alias == environment,
            alias_history.c.version == version,
        )
    ).first()
    return found is not None


def gate_results(
    conn: Connection, pid: int, project: str, ref: str | ModelRef, target: str
) -> tuple[Any, Any, int | None, Rules, list[GateResult]]:
    """(version row, model row, policy revision, rules, gate results) of a target, now."""
    environment, _ = split_target(target)
    row = version_row(conn, project, pid, ref)
    name = ref.name if isinstance(ref, ModelRef) else parse_model_ref(ref).name
    model = model_row(conn, pid, project, name)
    revision, policy = policy_of(conn, pid)
    rules = target_rules(policy, target, model.name, row.version)
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


def waiting_for(rules: Rules, given: list[Approval]) -> list[str]:
    """The roles whose approvals the rules still need, given the decisions so far."""
    missing = []
    for rule in rules.approvals:
        have = sum(1 for a in given if a.role == rule.role and a.decision == "approve")
        if have < rule.count:
            missing.append(rule.role)
    return missing
