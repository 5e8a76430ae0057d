"""relayml: one MLOps system for the whole ML team.

    import relayml as relay
    relay.init(project="churn")
    with relay.start_run(experiment="baseline") as run:
        run.log_params({"max_depth": 3})
        run.log_metrics({"auc": 0.91}, step=1)

The SDK names below load on first use, so ``import relayml`` (and the CLI) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ActiveRun",
    "active_run",
    "approve",
    "check_data",
    "current_project",
    "download_artifact",
    "evaluate",
    "features",
    "flush",
    "get_backend",
    "get_lineage",
    "get_model_card",
    "get_run",
    "init",
    "load_dataset",
    "load_model",
    "log_artifact",
    "log_dataset",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_outcomes",
    "log_params",
    "pipeline",
    "promote",
    "reject",
    "search_runs",
    "set_model_card",
    "set_policy",
    "set_tags",
    "start_run",
    "step",
]

if TYPE_CHECKING:
    from relayml.pipelines import pipeline, step
    from relayml.sdk import (
        current_project,
        download_artifact,
        flush,
        get_backend,
        get_run,
        init,
        search_runs,
    )
    from relayml.sdk_data import (
        check_data,
        get_lineage,
        load_dataset,
        log_dataset,
    )
    from relayml.sdk_models import (
        approve,
        evaluate,
        get_model_card,
        load_model,
        log_model,
        log_outcomes,
        promote,
        reject,
        set_model_card,
        set_policy,
    )
    from relayml.sdk_runs import (
        ActiveRun,
        active_run,
        log_artifact,
        log_metric,
        log_metrics,
        log_params,
        set_tags,
        start_run,
    )

_DATA_NAMES = frozenset(["check_data", "get_lineage", "load_dataset", "log_dataset"])
_RUN_NAMES = frozenset(
    [
        "ActiveRun",
        "active_run",
        "log_artifact",
        "log_metric",
        "log_metrics",
        "log_params",
        "set_tags",
        "start_run",
    ]
)
_MODEL_NAMES = frozenset(
    [
        "approve",
        "evaluate",
        "get_model_card",
        "load_model",
        "log_model",
        "log_outcomes",
        "promote",
        "reject",
        "set_model_card",
        "set_policy",
    ]
)


def __getattr__(name: str) -> Any:
    if name == "features":
        import importlib

        importlib.import_module("relayml.sdk")  # the SDK installs the defaults it uses
        return importlib.import_module("relayml.features")
    if name in ("pipeline", "step"):
        from relayml import pipelines, sdk  # the SDK installs the pipelines' defaults

        return getattr(pipelines, name)
    if name in _DATA_NAMES:
        from relayml import sdk_data

        return getattr(sdk_data, name)
    if name in _MODEL_NAMES:
        from relayml import sdk_models

        return getattr(sdk_models, name)
    if name in _RUN_NAMES:
        from relayml import sdk_runs

        return getattr(sdk_runs, name)
    if name in __all__:
        from relayml import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'relayml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
