"""The one permission table: which role may take which action (deny by default).

Every route of the platform API declares one action from ``ACTIONS``. A project action is allowed
when the user holds, in that project, a role whose row lists the action; the global ``admin`` may
take every action. A global action (``SIGNED_IN`` or ``ADMIN_ONLY``) does not look at projects.
Kept free of imports so the CLI and the docs can print the matrix cheaply.
"""

from __future__ import annotations

from collections.abc import Iterable

from relayml.domain.roles import ROLES

__all__ = [
    "ACTIONS",
    "ADMIN",
    "ADMIN_ONLY",
    "ALL_ROLES",
    "GRANTS",
    "PUBLIC",
    "SIGNED_IN",
    "allowed",
    "is_global",
    "matrix_markdown",
    "roles_allowed",
]

ADMIN = "admin"  # the global administrator, not a project role

# Project actions, each with the sentence the docs print.
ACTIONS: dict[str, str] = {
    "project.read": "read a project: runs, models, data, pipelines, lineage, deployments, KPIs",
    "project.update": "change the project's description, business question, owner",
    "project.kpis": "set the project's KPIs and their targets",
    "project.members": "give and take roles in the project",
    "tracking.write": "create experiments and runs; log params, metrics, tags, artifacts",
    "data.write": "register datasets and versions, data checks, lineage links",
    "features.write": "apply feature definitions, record their checks, promote feature sets",
    "pipeline.run": "run pipelines and record their steps",
    "model.write": "register models and versions, log evaluations, set model cards",
    "policy.write": "change the project's gates and approval rules",
    "promotion.request": "ask to move a version into an environment",
    "promotion.decide": "approve or reject a promotion (the policy names who)",
    "promotion.production": "approve or reject a promotion into production",
    "deploy.write": "deploy, canary, A/B, shadow, promote a winner",
    "alerts.write": "create and change alert rules, run monitors, compact logs",
    "outcomes.write": "log outcomes (labels arriving late) for predictions",
    "feedback.flag": "flag a prediction that looks wrong",
    "feedback.resolve": "resolve a flag",
    "decisions.write": "edit decision tables (business rules on top of the model)",
    "audit.read": "read the audit log and verify its chain",
    "risk.write": "set a model's risk tier (with a reason)",
    "model.retire": "retire a model from every environment",
    "report.create": "build and store a model risk report",
}

# Global actions: they do not look at a project.
PUBLIC = "public"  # /healthz, readiness, sign-in: no identity needed
SIGNED_IN = "signed_in"  # any active user: who am I, my tokens, create a project, list projects
ADMIN_ONLY = "admin_only"  # users, global audit checkpoints

ALL_ROLES = ROLES  # the project roles, "viewer" included

_EVERYONE = frozenset(ALL_ROLES)

# role -> the project actions it may take
GRANTS: dict[str, frozenset[str]] = {
    # the owner runs the project but does not judge its risk (the second line of defence does)
    "owner": frozenset(ACTIONS) - {"promotion.production", "risk.write"},
    "data_scientist": frozenset(
        {
            "project.read",
            "tracking.write",
            "data.write",
            "features.write",
            "pipeline.run",
            "model.write",
            "promotion.request",
            "promotion.decide",
            "feedback.flag",
            "decisions.write",
            "report.create",
        }
    ),
    "data_engineer": frozenset(
        {"project.read", "tracking.write", "data.write", "features.write", "pipeline.run"}
    ),
    "ml_engineer": frozenset(
        {
            "project.read",
            "tracking.write",
            "pipeline.run",
            "model.write",
            "promotion.request",
            "promotion.decide",
            "deploy.write",
            "alerts.write",
            "report.create",
        }
    ),
    "software_engineer": frozenset({"project.read", "outcomes.write"}),
    "devops": frozenset(
        {
            "project.read",
            "promotion.request",
            "promotion.decide",
            "deploy.write",
            "alerts.write",
            "outcomes.write",
        }
    ),
    "risk_manager": frozenset(
        {
            "project.read",
            "policy.write",
            "promotion.decide",
            "promotion.production",
            "feedback.resolve",
            "audit.read",
            "risk.write",
            "model.retire",
            "report.create",
        }
    ),
    # reads everything and changes nothing; a report it builds is a reading of the store
    "auditor": frozenset({"project.read", "audit.read", "report.create"}),
    "subject_matter_expert": frozenset(
        {
            "project.read",
            "project.kpis",
            "feedback.flag",
            "feedback.resolve",
            "decisions.write",
        }
    ),
    "viewer": frozenset({"project.read"}),
}


def is_global(action: str) -> bool:
    """True for the actions that do not look at a project's roles."""
    return action in (PUBLIC, SIGNED_IN, ADMIN_ONLY)


def allowed(roles: Iterable[str], action: str, *, admin: bool = False) -> bool:
    """May someone holding ``roles`` (in the project at hand) take ``action``?"""
    if action not in ACTIONS and not is_global(action):
        raise KeyError(f"unknown action {action!r}")
    if admin or action == PUBLIC:
        return True
    if action == SIGNED_IN:
        return True  # the caller has checked that there is an active user
    if action == ADMIN_ONLY:
        return False
    return any(action in GRANTS.get(role, ()) for role in roles)


def matrix_markdown() -> str:
    """The table as a Markdown matrix: one row per action, one column per role (docs/security.md
    holds it; `relay roles --markdown` prints it)."""
    header = ["action", *ALL_ROLES, ADMIN]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for action in ACTIONS:
        marks = ["✓" if action in GRANTS[role] else "" for role in ALL_ROLES]
        lines.append("| `" + action + "` | " + " | ".join([*marks, "✓"]) + " |")
    return "\n".join(lines)


def roles_allowed(action: str) -> list[str]:
    """The project roles that may take ``action`` (for messages and the docs' matrix)."""
    return [role for role in ALL_ROLES if action in GRANTS[role]]


assert set(GRANTS) == _EVERYONE, "every role needs a row"
assert all(grant <= set(ACTIONS) for grant in GRANTS.values()), "a grant names an unknown action"
