"""The feature store: entities, feature sets and on-demand features declared in Python, a
versioned registry with environments, and point-in-time training frames.

    import relayml as relay
    customer = relay.features.Entity("customer", join_keys=["customer_id"])
    profile = relay.features.FeatureSet(
        name="customer", entity=customer, source=relay.features.Source(dataset="customers"),
        features=[relay.features.Feature("tenure", "int64")], event_time="event_time",
    )
    # relay features apply module.py, then:
    frame = relay.features.training_frame(entities, ["customer:tenure"])

Names load on first use, so that importing the backend does not load pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relayml.domain.features import Entity, Feature, FeatureSet, OnDemandFeatureSet, Source

__all__ = [
    "Entity",
    "Feature",
    "FeatureSet",
    "OnDemandFeatureSet",
    "Source",
    "apply",
    "check",
    "impact",
    "load_definitions",
    "on_demand",
    "plan",
    "training_frame",
]

if TYPE_CHECKING:
    import pandas as pd

    from relayml.domain.features import FeatureCheck, FeatureImpact, FeaturePlan
    from relayml.domain.ports import Backend


def __getattr__(name: str) -> Any:
    if name == "on_demand":
        from relayml.features.ondemand import on_demand

        return on_demand
    if name == "load_definitions":
        from relayml.features.declare import load_definitions

        return load_definitions
    raise AttributeError(f"module 'relayml.features' has no attribute {name!r}")


def _defaults(backend: Backend | None, project: str | None) -> tuple[Backend, str]:
    from relayml.pipelines.context import default_backend, default_project

    return default_backend(backend), default_project(project)


def training_frame(
    entity_df: pd.DataFrame,
    features: list[str],
    *,
    event_time: str = "event_time",
    as_of_known: bool = False,
    name: str | None = "training_set",
    executor: str | None = None,
    backend: Backend | None = None,
    project: str | None = None,
) -> pd.DataFrame:
    """entity_df joined point in time with the features, logged as dataset `name` (None: not).

    executor: "local" (this process) or "dask://host:port"; default RELAY_EXECUTOR.
    """
    from relayml.features.training import training_frame as build

    be, proj = _defaults(backend, project)
    settings = getattr(be, "settings", None)
    chosen = executor or (getattr(settings, "executor", None) if settings is not None else None)
    return build(
        be,
        proj,
        entity_df,
        features,
        event_time=event_time,
        as_of_known=as_of_known,
        name=name,
        executor=chosen,
    )


def plan(
    path_or_objects: Any, *, backend: Backend | None = None, project: str | None = None
) -> FeaturePlan:
    """What applying a module file (or a list of declared objects) would change."""
    be, proj = _defaults(backend, project)
    return be.plan_features(proj, _specs(path_or_objects))


def apply(
    path_or_objects: Any, *, backend: Backend | None = None, project: str | None = None
) -> FeaturePlan:
    """Apply a module file (or a list of declared objects) to the registry."""
    be, proj = _defaults(backend, project)
    return be.apply_features(proj, _specs(path_or_objects))


def check(
    name: str, *, version: int | None = None, backend: Backend | None = None,
    project: str | None = None,
) -> FeatureCheck:  # fmt: skip
    """Run a feature set's data checks on its source and store them, with its freshness."""
    from relayml.features.people import check_feature_set

    be, proj = _defaults(backend, project)
    return check_feature_set(be, proj, name, version=version)


def impact(
    feature: str, *, backend: Backend | None = None, project: str | None = None
) -> FeatureImpact:
    """Which training sets and model versions use a feature (customer:tenure)."""
    from relayml.features.people import impact as find

    be, proj = _defaults(backend, project)
    return find(be, proj, feature)


def _specs(path_or_objects: Any) -> list[dict[str, Any]]:
    from relayml.features.declare import load_definitions, specs_of

    if isinstance(path_or_objects, list | tuple):
        return specs_of(list(path_or_objects))
    return load_definitions(path_or_objects)
