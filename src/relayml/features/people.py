"""What people ask of the registry: run a feature set's checks on its source (with its
freshness), and which training sets and models use a feature ("what breaks if I change it")."""

from __future__ import annotations

import difflib
from datetime import UTC, datetime

from relayml.domain.features import FeatureCheck, FeatureImpact, FeatureSet, parse_feature_ref
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput, NotFound

__all__ = ["check_feature_set", "impact", "models_using"]


def check_feature_set(
    backend: Backend, project: str, name: str, *, version: int | None = None
) -> FeatureCheck:
    """Run a feature set version's data checks on its source and store them, with freshness."""
    import numpy as np
    import pyarrow as pa

    from relayml.data.checks import evaluate_checks
    from relayml.features.pit import time_ns
    from relayml.features.training import load_source

    definition = backend.get_feature_definition(project, "feature_set", name, version=version)
    fs = definition.declared()
    assert isinstance(fs, FeatureSet)
    frame, _ = load_source(backend, project, fs)
    if fs.event_time not in frame.columns:
        raise InvalidInput(
            f"the source of feature set {name!r} has no event time column {fs.event_time!r}."
        )
    outcomes = []
    if fs.checks:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        outcomes = evaluate_checks(table, {"checks": fs.checks})
    stamps = time_ns(frame[fs.event_time], fs.event_time)
    stamps = stamps[stamps != np.iinfo(np.int64).min]
    latest = datetime.fromtimestamp(int(stamps.max()) / 1e9, tz=UTC) if len(stamps) else None
    return backend.record_feature_check(
        project, name, definition.version, outcomes, rows=len(frame), latest_event_time=latest
    )


def impact(backend: Backend, project: str, feature: str) -> FeatureImpact:
    """The training sets and model versions downstream of a feature, in the lineage graph."""
    ref = parse_feature_ref(feature)
    definition = backend.get_feature_definition(project, "feature_set", ref.feature_set)
    names = [f["name"] for f in definition.spec.get("features", [])]
    if ref.feature not in names:
        close = difflib.get_close_matches(ref.feature, names, n=3)
        hint = (
            f" Did you mean {', '.join(f'{ref.feature_set}:{c}' for c in close)}?" if close else ""
        )
        raise InvalidInput(
            f"feature set {ref.feature_set!r} has no feature {ref.feature!r} "
            f"(its features: {', '.join(names)}).{hint}"
        )
    key = f"{project}/{ref.feature_set}:{ref.feature}"
    try:
        graph = backend.lineage("feature", key, depth=6, direction="downstream")
    except NotFound:
        return FeatureImpact(feature=str(ref), training_sets=[], model_versions=[])
    training = sorted(n.label or n.key for n in graph.nodes if n.kind == "dataset_version")
    models = sorted(n.label or n.key for n in graph.nodes if n.kind == "model_version")
    return FeatureImpact(feature=str(ref), training_sets=training, model_versions=models)


def models_using(backend: Backend, project: str, name: str) -> dict[str, list[str]]:
    """For each feature of a feature set, the model versions trained from it."""
    definition = backend.get_feature_definition(project, "feature_set", name)
    return {
        f["name"]: impact(backend, project, f"{name}:{f['name']}").model_versions
        for f in definition.spec.get("features", [])
    }
