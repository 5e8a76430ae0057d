"""Deployments: which model versions an environment serves, how traffic is split, and history.

Every change is a new revision stored with who and when (and an audit entry in the same
transaction); a running model server polls the revision and picks the change up. No deployment
goes around the project's policy: see ``deploy`` and models/admission.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from relayml.deployments.follow import locked_deployment, store_revision
from relayml.domain.models import ENVIRONMENTS
from relayml.domain.serving import Deployment, DeploymentRevision, Strategy, Variant
from relayml.errors import Conflict, GateFailed, InvalidInput, NotFound
from relayml.governance import audit
from relayml.models.admission import admit
from relayml.models.promotion import promote
from relayml.models.registry import current_aliases, model_row, version_row
from relayml.projects.service import project_id
from relayml.store import Store
from relayml.store.schema import registered_models
from relayml.store.schema_serving import deployment_revisions, deployments

__all__ = [
    "deploy",
    "deployment_history",
    "deployment_state",
    "get_deployment",
    "list_deployments",
]


def _check_environment(environment: str) -> None:
    if environment not in ENVIRONMENTS:
        raise InvalidInput(
            f"unknown environment {environment!r}; use one of {', '.join(ENVIRONMENTS)}."
        )


def _to_deployment(project: str, model: str, row: Any) -> Deployment:
    return Deployment(
        project=project,
        model=model,
        environment=row.environment,
        strategy=row.strategy,
        variants=[Variant.model_validate(v) for v in row.variants],
        sticky_key=row.sticky_key,
        revision=row.revision,
        reason=row.reason,
        updated_by=row.updated_by,
        updated_at=audit.to_datetime(row.updated_at),
    )


def _check_versions(
    conn: Connection, project: str, pid: int, model: Any, variants: list[Variant]
) -> None:
    for variant in variants:
        if variant.version is None:
            continue
        version_row(conn, project, pid, f"{model.name}/{variant.version}")


def _check_distinct(
    model: str,
    environment: str,
    strategy: Strategy,
    variants: list[Variant],
    alias_version: int | None,
) -> None:
    """Refuse variants that name one version twice once the alias is resolved: a canary of the
    version already live would split traffic between two copies of it, compare nothing, and
    leave promote-winner with one variant."""
    seen: set[int] = set()
    for variant in variants:
        version = variant.version if variant.version is not None else alias_version
        if version is None:
            continue
        if version in seen:
            if version != alias_version:
                raise InvalidInput(f"{model}/{version} is named twice; list each version once.")
            raise InvalidInput(
                f"{model}/{version} is already what {environment} serves (the {environment} "
                f"alias names it), so this {strategy} would serve one version twice. Pick "
                f"another version, or pin the live one with --version N."
            )
        seen.add(version)


def deploy(
    store: Store,
    actor: str,
    project: str,
    model: str,
    environment: str,
    strategy: Strategy,
    variants: list[Variant],
    *,
    sticky_key: str | None = None,
    reason: str = "",
) -> Deployment:
    """Store a new revision of the deployment of `model` in `environment`.

    The version that holds the environment stays one of the live variants and follows its
    alias. When no live variant is that version, the first live one enters the environment
    through a promotion (its gates and approvals) before anything is deployed; every other
    version must satisfy the policy's canary or shadow rule (models/admission.py).
    """
    _check_environment(environment)
    if sticky_key is not None and not sticky_key.strip():
        raise InvalidInput("--sticky-key must name a request field, e.g. customer_id.")
    live = [v for v in variants if v.mode == "live"]
    if not live or abs(sum(v.weight for v in live) - 100.0) > 1e-6:
        raise InvalidInput("the live variants' shares must add up to 100%.")
    entering = _entering(store, project, model, environment, variants)
    if entering is not None:
        _promote_first(store, actor, project, model, environment, entering, reason)
    with store.write() as conn:
        pid = project_id(conn, project)
        row = model_row(conn, pid, project, model)
        _check_versions(conn, project, pid, row, variants)
        unpinned = any(v.version is None for v in variants)
        alias_version = current_aliases(conn, row.id).get(environment)
        if unpinned and alias_version is None:
            raise NotFound(
                f"no version of {model!r} is in {environment} yet, so there is nothing to "
                f"deploy there: promote one (`relay models promote {model}/<version> --to "
                f"{environment}`) or pin one with --version."
            )
        if entering is not None and alias_version != entering:
            raise Conflict(
                f"{environment} moved to {model}/{alias_version} while {model}/{entering} was "
                "being promoted; the deployment is unchanged. Look at `relay models history "
                f"{model}` and deploy again."
            )
        _check_distinct(model, environment, strategy, variants, alias_version)
        stored = admit(conn, pid, project, model, environment, variants, alias_version)
        values = {
            "strategy": strategy,
            "variants": [v.model_dump() for v in stored],
            "sticky_key": sticky_key,
            "reason": reason,
        }
        existing = locked_deployment(conn, row.id, environment)
        entity = f"{project}/{model}/{environment}"
        deployment_id = store_revision(conn, actor, entity, row.id, environment, existing, values)
        result = conn.execute(select(deployments).where(deployments.c.id == deployment_id)).one()
        return _to_deployment(project, model, result)


def _entering(
    store: Store, project: str, model: str, environment: str, variants: list[Variant]
) -> int | None:
    """The version that must enter the environment first: the first live variant, when no
    live variant is the version that holds it; None otherwise."""
    with store.read() as conn:
        pid = project_id(conn, project)
        row = model_row(conn, pid, project, model)
        _check_versions(conn, project, pid, row, variants)
        holder = current_aliases(conn, row.id).get(environment)
    live = [v for v in variants if v.mode == "live"]
    if any(v.version is None or v.version == holder for v in live):
        return None
    return live[0].version


def _promote_first(
    store: Store, actor: str, project: str, model: str, environment: str, version: int, why: str
) -> None:
    """Promote the version into the environment (its own transaction), or GateFailed."""
    name = f"{model}/{version}"
    promotion = promote(
        store, actor, project, name, environment, why or f"deployed to {environment}"
    )
    if promotion.status == "PROMOTED":
        return
    unchanged = "the deployment is unchanged"
    if promotion.status == "PENDING_APPROVAL":
        roles = " and ".join(promotion.waiting_for)
        raise GateFailed(
            f"{name} passed the {environment} gates and waits for approval by {roles} "
            f"(promotion {promotion.id}); {unchanged}. Once someone holding that role (not "
            f"its author) runs `relay models approve {name} --env {environment}`, {name} holds "
            f"{environment} and its deployment serves it (it follows the {environment} alias)."
        )
    failed = [g for g in promotion.gates if not g.passed]
    details = "; ".join(f"{g.name}: {g.detail.rstrip('.')}" for g in failed)
    fixes = [
        f"`relay models promote {name} --to {g.name.removeprefix('passed through ')}`"
        for g in failed
        if g.name.startswith("passed through ")
    ]
    fix = f"Fix: {', '.join(fixes)}; then " if fixes else "Fix what failed, then "
    raise GateFailed(
        f"{name} may not serve {environment}: a version answers all of {environment} only once "
        f"it holds {environment}, and {len(failed)} of {len(promotion.gates)} {environment} "
        f"gates failed ({details}); {unchanged} (promotion {promotion.id} in `relay models "
        f"history {model}`). {fix}`relay models promote {name} --to {environment}`."
    )


def _find(conn: Connection, project: str, model: str, environment: str) -> Any:
    _check_environment(environment)
    pid = project_id(conn, project)
    mrow = model_row(conn, pid, project, model)
    row = conn.execute(
        select(deployments).where(
            deployments.c.model_id == mrow.id, deployments.c.environment == environment
        )
    ).first()
    if row is None:
        raise NotFound(
            f"{model!r} has no deployment in {environment}; create one with "
            f"`relay deploy {model} --env {environment}`."
        )
    return row


def get_deployment(store: Store, project: str, model: str, environment: str) -> Deployment:
    """The current revision of a deployment, or NotFound saying how to create it."""
    with store.read() as conn:
        return _to_deployment(project, model, _find(conn, project, model, environment))


def list_deployments(store: Store, project: str) -> list[Deployment]:
    """Every deployment of a project, by model and environment."""
    with store.read() as conn:
        pid = project_id(conn, project)
        rows = conn.execute(
            select(deployments, registered_models.c.name.label("model_name"))
            .join(registered_models, registered_models.c.id == deployments.c.model_id)
            .where(registered_models.c.project_id == pid)
            .order_by(registered_models.c.name, deployments.c.environment)
        ).all()
        return [_to_deployment(project, row.model_name, row) for row in rows]


def deployment_history(
    store: Store, project: str, model: str, environment: str
) -> list[DeploymentRevision]:
    """Every revision of a deployment, oldest first."""
    with store.read() as conn:
        row = _find(conn, project, model, environment)
        rows = conn.execute(
            select(deployment_revisions)
            .where(deployment_revisions.c.deployment_id == row.id)
            .order_by(deployment_revisions.c.revision)
        ).all()
    return [
        DeploymentRevision(
            revision=r.revision,
            strategy=r.strategy,
            variants=[Variant.model_validate(v) for v in r.variants],
            sticky_key=r.sticky_key,
            reason=r.reason,
            created_by=r.created_by,
            created_at=audit.to_datetime(r.created_at),
        )
        for r in rows
    ]


def deployment_state(
    store: Store, project: str, model: str, environment: str
) -> tuple[int | None, int | None]:
    """(deployment revision or None, version the environment's alias names or None): cheap."""
    with store.read() as conn:
        pid = project_id(conn, project)
        mrow = model_row(conn, pid, project, model)
        revision = conn.execute(
            select(deployments.c.revision).where(
                deployments.c.model_id == mrow.id, deployments.c.environment == environment
            )
        ).scalar()
        return revision, current_aliases(conn, mrow.id).get(environment)
