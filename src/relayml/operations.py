"""Backends whose operations live in service classes imported on first use.

LocalBackend and HttpBackend each offer every operation of the Backend port, but a command or a
script uses a few: `relay models list` needs the model registry and nothing of monitoring,
lineage or identity. Each backend names, per service class ("module:Class"), the functions that
class gives it (its OPERATIONS table); the first time one of them is asked for, the class's
module is imported and all of its functions are set on the backend's class, so later calls are
plain method calls. To mypy the service classes are base classes, so calls are checked as usual.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any, ClassVar

__all__ = ["GROUPS", "LazyOperations", "services_table"]

# The port's operations beyond tracking, by service: each backend has one class per service.
GROUPS: dict[str, tuple[str, ...]] = {
    "models": (
        "upload_blob", "fetch_blob", "add_member", "list_members", "create_model_version",
        "get_model", "list_models", "get_model_version", "list_model_versions", "model_history",
        "create_evaluation", "list_evaluations", "set_policy", "get_policy", "promote",
        "decide_promotion", "check_promotion",
    ),
    "data": (
        "create_dataset_version", "get_dataset_version", "list_datasets",
        "list_dataset_versions", "record_data_check", "list_data_checks",
    ),
    "lineage": ("link", "lineage", "ingest_openlineage"),
    "pipelines": (
        "create_pipeline_run", "record_step_run", "finish_pipeline_run", "get_pipeline_run",
        "list_pipeline_runs", "lookup_cache",
    ),
    "deployments": (
        "deploy", "get_deployment", "list_deployments", "deployment_history",
        "deployment_state", "log_outcomes",
    ),
    "monitoring": (
        "get_prediction", "production_table", "flag_prediction", "list_flags", "resolve_flag",
        "set_alert_rules", "list_alert_rules", "list_alert_events", "acknowledge_alert",
        "run_monitors", "set_decision_table", "get_decision_table", "explain_prediction",
        "model_importance", "compact_logs",
    ),
    "identity": (
        "whoami", "list_users", "add_user", "get_user", "disable_user", "enable_user",
        "set_admin", "set_password", "create_token", "list_tokens", "revoke_token",
    ),
    "audit": ("verify_audit", "create_audit_checkpoint", "list_audit_checkpoints", "export_audit"),
    "reports": (
        "inventory", "set_risk_tier", "retire_model", "get_model_card", "set_model_card",
        "build_model_report", "resource_overview",
    ),
    "features": (
        "plan_features", "apply_features", "list_feature_definitions", "get_feature_definition",
        "list_feature_definition_versions", "record_feature_check", "list_feature_checks",
        "promote_feature_set", "materialize_feature_set", "online_features",
    ),
    "schedules": (
        "add_schedule", "list_schedules", "get_schedule", "pause_schedule", "resume_schedule",
        "remove_schedule", "update_firing", "tick_schedules",
    ),
}  # fmt: skip


def services_table(
    classes: dict[str, str], helpers: dict[str, tuple[str, ...]] | None = None
) -> dict[str, tuple[str, ...]]:
    """A backend's OPERATIONS: each group's class ("module:Class") with the group's operations
    and the class's own helpers (private functions its operations call)."""
    assert set(classes) == set(GROUPS), "a class for every group"
    extra = helpers or {}
    return {target: (*GROUPS[group], *extra.get(group, ())) for group, target in classes.items()}


_loading = threading.Lock()
_indexes: dict[type, dict[str, str]] = {}  # per backend class: operation -> its service


class LazyOperations:
    """Base of a backend whose OPERATIONS table says which service class holds which function."""

    OPERATIONS: ClassVar[dict[str, tuple[str, ...]]] = {}

    if not TYPE_CHECKING:  # to mypy, the service classes are base classes

        def __getattr__(self, name: str) -> Any:
            """An operation not loaded yet: its service is imported, then it is bound."""
            return _operation(type(self), name).__get__(self, type(self))


def _operation(owner: type, name: str) -> Any:
    """The function `name` of its service class, after giving the backend class all of that class.

    AttributeError (as for any missing attribute) when no service has an operation of that name.
    """
    home = next(c for c in owner.__mro__ if "OPERATIONS" in vars(c))
    index = _indexes.get(home)
    if index is None:
        table: dict[str, tuple[str, ...]] = vars(home)["OPERATIONS"]
        index = _indexes[home] = {op: service for service, ops in table.items() for op in ops}
    service = index.get(name)
    if service is None:
        raise AttributeError(f"{owner.__name__!r} object has no attribute {name!r}")
    module, class_name = service.split(":")
    functions = vars(getattr(importlib.import_module(module), class_name))
    with _loading:
        for operation in vars(home)["OPERATIONS"][service]:
            if operation not in vars(home):  # what the backend defines itself (or a test's patch)
                setattr(home, operation, functions[operation])
    return vars(home)[name]
