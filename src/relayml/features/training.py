"""Training frames: each entity row joined with its features as they were at its event time,
logged as a dataset version with lineage to the feature sets, their features and sources.

    frame = relay.features.training_frame(
        entities, ["customer:tenure", "customer:plan"], as_of_known=True, name="churn_train"
    )
    frame.attrs["dataset"]     # 'churn_train@1', for log_model(..., datasets=[...])
"""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pandas as pd
import pyarrow as pa

from relayml.domain.features import (
    FeatureDefinition,
    FeatureRef,
    FeatureSet,
    OnDemandFeatureSet,
    parse_feature_ref,
)
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput, NotFound
from relayml.features.ondemand import run_on_demand
from relayml.features.pit_index import (
    EntityKeys,
    SetIndex,
    build_index,
    check_known,
    entity_keys,
    join_index,
    known_part,
)
from relayml.features.pit_threads import in_threads
from relayml.features.training_output import log_training_frame, place_columns

__all__ = [
    "join_feature_set",
    "latest_values",
    "load_source",
    "prepared_source",
    "training_frame",
]

_ON_CLIENT = "dask-client"  # the joins run on the Dask client this call opened
_Job = tuple[FeatureDefinition, FeatureSet, list[str], list[str]]  # a set, keys, features


def load_source(backend: Backend, project: str, fs: FeatureSet) -> tuple[pd.DataFrame, str]:
    """A feature set's source rows and the lineage key of what they were read from."""
    source = fs.source
    if source.dataset is not None:
        from relayml.data.sources import load_dataset

        version = backend.get_dataset_version(project, source.dataset)
        frame = load_dataset(backend, project, version.ref, as_="pandas")
        return frame, f"dataset_version|{project}/{version.ref}"
    from relayml.pipelines.outcome import load_output

    runs = [
        r
        for r in backend.list_pipeline_runs(project, pipeline=source.pipeline, limit=20)
        if r.status == "FINISHED"
    ]
    if not runs:
        raise NotFound(
            f"feature set {fs.name!r} reads pipeline {source.pipeline!r}, which has no finished "
            "run in this project; run the pipeline first."
        )
    value = load_output(runs[0], str(source.step), source.output, backend)
    frame = value.to_pandas() if isinstance(value, pa.Table) else pd.DataFrame(value)
    return frame, f"pipeline_run|{runs[0].id}"


def prepared_source(
    backend: Backend, project: str, fs: FeatureSet, keys: Sequence[str], as_of_known: bool
) -> tuple[SetIndex, str]:
    """A feature set's source prepared for joins and the lineage key of what it was read from.
    A dataset version's is read from the local cache (pit_cache), built there at first use."""
    settings = getattr(backend, "settings", None)
    if fs.source.dataset is None or settings is None or not settings.feature_cache:
        source, source_key = load_source(backend, project, fs)
        _check_columns(fs, source, keys)
        index = build_index(source, keys, fs.event_time, fs.created_time, fs.name)
        if as_of_known and index.created is not None:
            index = replace(index, known=known_part(index))
        return index, source_key
    from relayml.data.sources import load_dataset
    from relayml.features.pit_cache import cache_key, cache_root, cached_index, cached_known

    version = backend.get_dataset_version(project, fs.source.dataset)
    names = [f.name for f in fs.features]

    def build() -> SetIndex:
        source = load_dataset(backend, project, version.ref, as_="pandas")
        _check_columns(fs, source, keys)
        return build_index(source, keys, fs.event_time, fs.created_time, fs.name)

    root = cache_root(settings.home)
    key = cache_key(version.content_hash, keys, fs)
    index = cached_index(root, key, build, names)
    if as_of_known and index.created is not None:
        index = cached_known(root, key, index)
    return index, f"dataset_version|{project}/{version.ref}"


def _check_columns(fs: FeatureSet, frame: pd.DataFrame, keys: Sequence[str]) -> None:
    times = [fs.event_time] + ([fs.created_time] if fs.created_time else [])
    needed = [*keys, *times, *(f.name for f in fs.features)]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"the source of feature set {fs.name!r} ({fs.source.describe()}) has no column "
            f"{', '.join(missing)} (its columns: {', '.join(map(str, frame.columns[:30]))})."
        )


def join_feature_set(
    entity_df: pd.DataFrame,
    event_time: str,
    fs: FeatureSet,
    keys: Sequence[str],
    source: pd.DataFrame | None,
    features: Sequence[str],
    *,
    as_of_known: bool = False,
    entities: EntityKeys | None = None,
    index: SetIndex | None = None,
) -> pd.DataFrame:
    """The features' values for each entity row at its event time (missing: null), one column
    per feature, indexed like entity_df. ``entities``: entity_keys(entity_df, event_time, keys),
    when several feature sets are joined to the same frame (it is prepared once); ``index``: the
    source already prepared (pit_cache.py; then ``source`` is not read)."""
    if index is None:
        assert source is not None
        _check_columns(fs, source, keys)
        index = build_index(source, keys, fs.event_time, fs.created_time, fs.name)
    if as_of_known:
        check_known(index)
        if index.known is None:
            index = replace(index, known=known_part(index))
    if entities is None:
        entities = entity_keys(entity_df, event_time, keys)
    ttl = None if fs.ttl is None else int(fs.ttl / timedelta(microseconds=1)) * 1000
    return join_index(entities, index, features, as_of_known=as_of_known, ttl_ns=ttl)


def latest_values(
    source: pd.DataFrame,
    fs: FeatureSet,
    keys: Sequence[str],
    as_of: Any,
    *,
    as_of_known: bool = False,
) -> pd.DataFrame:
    """The latest value per entity as of a moment (TTL applied): the online store's rows."""
    entities = source[list(keys)].dropna().drop_duplicates().reset_index(drop=True)
    entities["__as_of"] = pd.Timestamp(as_of)
    values = join_feature_set(
        entities,
        "__as_of",
        fs,
        keys,
        source,
        [f.name for f in fs.features],
        as_of_known=as_of_known,
    )
    return pd.concat([entities.drop(columns="__as_of"), values], axis=1)


def _suggest(text: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(text, known, n=3, cutoff=0.5)
    return f" Did you mean {', '.join(close)}?" if close else ""


class _Resolver:
    """Feature references resolved against the registry, definitions fetched once."""

    def __init__(self, backend: Backend, project: str) -> None:
        self.backend, self.project = backend, project
        self.latest = {(d.kind, d.name): d for d in backend.list_feature_definitions(project)}
        self.pinned: dict[tuple[str, str, int], FeatureDefinition] = {}

    def all_features(self) -> list[str]:
        return [
            f"{d.name}:{f['name']}"
            for d in self.latest.values()
            if d.kind != "entity"
            for f in d.spec.get("features", [])
        ]

    def definition(self, ref: FeatureRef) -> FeatureDefinition:
        found = None
        for kind in ("feature_set", "on_demand"):  # a feature set first, if both are named so
            if found is None and (kind, ref.feature_set) in self.latest:
                found = self.latest[(kind, ref.feature_set)]
        if found is None:
            sets = sorted({name for kind, name in self.latest if kind != "entity"})
            raise NotFound(
                f"feature set {ref.feature_set!r} (in {str(ref)!r}) does not exist in project "
                f"{self.project!r}.{_suggest(str(ref), self.all_features())} Known sets: "
                f"{', '.join(sets) or 'none yet'}."
            )
        if ref.version is not None and ref.version != found.version:
            key = (found.kind, found.name, ref.version)
            if key not in self.pinned:
                self.pinned[key] = self.backend.get_feature_definition(
                    self.project, found.kind, found.name, version=ref.version
                )
            found = self.pinned[key]
        names = [f["name"] for f in found.spec.get("features", [])]
        if ref.feature not in names:
            raise InvalidInput(
                f"feature {str(ref)!r} does not exist ({found.name}@{found.version} has "
                f"{', '.join(names)}).{_suggest(str(ref), self.all_features())}"
            )
        return found

    def entity_keys(self, fs: FeatureSet) -> list[str]:
        entity = self.latest.get(("entity", fs.entity))
        if entity is None:
            raise NotFound(f"entity {fs.entity!r} of feature set {fs.name!r} is not stored.")
        return list(entity.spec["join_keys"])


def training_frame(
    backend: Backend,
    project: str,
    entity_df: pd.DataFrame,
    features: Sequence[str],
    *,
    event_time: str = "event_time",
    as_of_known: bool = False,
    name: str | None = "training_set",
    executor: str | None = None,
) -> pd.DataFrame:
    """entity_df with a column per feature, point in time; logged as dataset `name` (None: not).

    With executor="dask://host:port" the joins run on that Dask cluster (training_dask).
    """
    if executor is not None and executor not in ("local", _ON_CLIENT):
        from relayml.features.training_dask import dask_client

        with dask_client(executor):
            return training_frame(
                backend, project, entity_df, features, event_time=event_time,
                as_of_known=as_of_known, name=name, executor=_ON_CLIENT,
            )  # fmt: skip
    executor = _ON_CLIENT if executor == _ON_CLIENT else None
    if not isinstance(entity_df, pd.DataFrame):
        raise InvalidInput("entity_df must be a pandas DataFrame of join keys and event times.")
    if event_time not in entity_df.columns:
        raise InvalidInput(
            f"the entity frame has no timestamp column {event_time!r} (its columns: "
            f"{', '.join(map(str, entity_df.columns))}); add it or pass event_time='<column>'."
        )
    refs = list({str(r): r for r in (parse_feature_ref(f) for f in features)}.values())
    if not refs:
        raise InvalidInput("name at least one feature, e.g. ['customer:tenure'].")
    resolver = _Resolver(backend, project)
    plan: dict[tuple[str, int], tuple[FeatureDefinition, list[str]]] = {}
    on_demand: list[tuple[FeatureDefinition, FeatureRef]] = []
    for ref in refs:
        found = resolver.definition(ref)
        if found.kind == "on_demand":
            on_demand.append((found, ref))
            for text in found.spec["inputs"]:
                inner = parse_feature_ref(text)
                dep = resolver.definition(inner)
                plan.setdefault((dep.name, dep.version), (dep, []))[1].append(inner.feature)
            continue
        plan.setdefault((found.name, found.version), (found, []))[1].append(ref.feature)
    jobs: list[_Job] = []
    for definition, names in plan.values():
        fs = definition.declared()
        assert isinstance(fs, FeatureSet)
        keys = resolver.entity_keys(fs)
        absent = [k for k in keys if k not in entity_df.columns]
        if absent:
            raise InvalidInput(
                f"the entity frame lacks join key {', '.join(absent)} of entity {fs.entity!r} "
                f"(for feature set {fs.name!r})."
            )
        jobs.append((definition, fs, keys, list(dict.fromkeys(names))))
    prepared: dict[tuple[str, ...], EntityKeys] = {}  # the entity frame, sorted once per keys
    for key_names in dict.fromkeys(tuple(job[2]) for job in jobs if executor is None):
        prepared[key_names] = entity_keys(entity_df, event_time, key_names)

    # the sets' sources read or prepared at once on the cores, then each join on the cores
    # (pit_threads); on Dask, one set after the other from here
    local = executor is None
    sources = deque(  # each dropped once joined: its mapped cache files leave memory with it
        in_threads(lambda j: prepared_source(backend, project, j[1], j[2], as_of_known), jobs)
        if local
        else []
    )
    frames: dict[str, pd.DataFrame] = {}  # each set's joined columns, by set name
    lineage: list[tuple[FeatureDefinition, list[str], str]] = []
    columns: dict[str, pd.Series] = {}
    for definition, fs, keys, wanted in jobs:
        if local:
            index, source_key = sources.popleft()
            values = join_feature_set(
                entity_df, event_time, fs, keys, None, wanted, as_of_known=as_of_known,
                entities=prepared[tuple(keys)], index=index,
            )  # fmt: skip
        else:
            from relayml.features.training_dask import join_on_dask, source_on_dask

            on_dask, source_key = source_on_dask(backend, project, fs)
            values = join_on_dask(
                entity_df, event_time, fs, keys, on_dask, wanted, as_of_known=as_of_known
            )
        frames[fs.name] = values
        for feature in wanted:
            columns[f"{fs.name}:{feature}"] = values[feature]
        lineage.append((definition, wanted, source_key))
    for definition, ref in on_demand:
        spec = definition.declared()
        assert isinstance(spec, OnDemandFeatureSet)
        inputs = pd.DataFrame(
            {parse_feature_ref(t).feature: columns[_plain(t)] for t in spec.inputs},
            index=entity_df.index,
        )
        for field in spec.request_fields:
            if field in entity_df.columns:
                inputs[field] = entity_df[field]
        computed = run_on_demand(spec, inputs)
        columns[f"{spec.name}:{ref.feature}"] = computed[ref.feature]
        lineage.append((definition, [ref.feature], ""))
    out = place_columns(entity_df, columns, frames, refs)
    if name is not None:
        out.attrs["dataset"] = log_training_frame(backend, project, name, out, lineage)
    return out


def _plain(text: str) -> str:
    ref = parse_feature_ref(text)
    return f"{ref.feature_set}:{ref.feature}"
