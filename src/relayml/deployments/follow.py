"""Writing a deployment revision, and keeping deployments in step with promotions.

A deployment's variant whose version is None follows its environment's alias, so a promotion
changes what it serves. When a promotion moves the alias to a version a variant pinned (the
canary or A/B challenger that won, or a shadow), that variant folds into the alias's variant:
one version is never served twice, and what `relay models history` says holds the environment
is what answers it. Used by promotion.py inside the promotion's own transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from relayml.domain.clock import now_ms
from relayml.domain.serving import Variant
from relayml.governance import audit
from relayml.store.schema_serving import deployment_revisions, deployments

__all__ = ["fold_promoted", "locked_deployment", "store_revision"]


def locked_deployment(conn: Connection, model_id: int, environment: str) -> Any:
    """The deployments row of a model in an environment (locked for update), or None."""
    return conn.execute(
        select(deployments)
        .where(deployments.c.model_id == model_id, deployments.c.environment == environment)
        .with_for_update()
    ).first()


def store_revision(
    conn: Connection,
    actor: str,
    entity: str,
    model_id: int,
    environment: str,
    existing: Any,
    values: dict[str, Any],
) -> int:
    """Store a new revision (strategy, variants, sticky_key, reason) and audit it; its row id."""
    now = now_ms()
    values = {**values, "updated_by": actor, "updated_at": now}
    if existing is None:
        revision = 1
        inserted = conn.execute(
            deployments.insert().values(
                model_id=model_id, environment=environment, revision=revision, **values
            )
        )
        deployment_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
        before = None
    else:
        revision = existing.revision + 1
        deployment_id = existing.id
        conn.execute(
            deployments.update()
            .where(deployments.c.id == deployment_id)
            .values(revision=revision, **values)
        )
        before = {"revision": existing.revision, "strategy": existing.strategy}
        before["variants"] = existing.variants
    conn.execute(
        deployment_revisions.insert().values(
            deployment_id=deployment_id,
            revision=revision,
            strategy=values["strategy"],
            variants=values["variants"],
            sticky_key=values["sticky_key"],
            reason=values["reason"],
            created_by=actor,
            created_at=now,
        )
    )
    audit.record(
        conn,
        actor=actor,
        action="deployment.update",
        entity_kind="deployment",
        entity_id=entity,
        before=before,
        after={k: values[k] for k in ("strategy", "variants")} | {"revision": revision},
    )
    return deployment_id


def fold_promoted(
    conn: Connection, actor: str, project: str, model: Any, environment: str, version: int
) -> None:
    """After ``version`` came to hold ``environment``: fold the variants that pinned it."""
    existing = locked_deployment(conn, model.id, environment)
    if existing is None:
        return
    variants = [Variant.model_validate(v) for v in existing.variants]
    if not any(v.version == version for v in variants):
        return
    weight = sum(v.weight for v in variants if v.mode == "live" and v.version in (None, version))
    kept: list[Variant] = []
    for variant in variants:
        if variant.version not in (None, version):
            kept.append(variant)
        elif variant.mode == "live" and not any(k.version is None for k in kept):
            kept.append(Variant(version=None, weight=weight))
    live = [v for v in kept if v.mode == "live"]
    strategy = existing.strategy
    if len(live) == 1:
        strategy = "single" if len(kept) == 1 else "shadow"
    values = {
        "strategy": strategy,
        "variants": [v.model_dump() for v in kept],
        "sticky_key": existing.sticky_key,
        "reason": f"{model.name}/{version} now holds {environment}: its variant follows the "
        f"{environment} alias",
    }
    entity = f"{project}/{model.name}/{environment}"
    store_revision(conn, actor, entity, model.id, environment, existing, values)
