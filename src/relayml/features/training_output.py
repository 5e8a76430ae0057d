"""A training frame's last steps: its feature columns placed beside the entity frame, and the frame
logged as a dataset version with lineage to the feature sets, their features and sources."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pandas as pd

from relayml.domain.features import FeatureDefinition, FeatureRef
from relayml.domain.lineage import LineageEdge, LineageNode
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput

__all__ = ["log_training_frame", "place_columns"]


def place_columns(
    entity_df: pd.DataFrame,
    columns: dict[str, pd.Series],
    frames: dict[str, pd.DataFrame],
    refs: Sequence[FeatureRef],
) -> pd.DataFrame:
    """entity_df with the requested features as columns named by feature (set__feature when two
    sets share one). A run of features that is a joined frame as it came is placed as it is,
    without copying its columns."""
    short = [r.feature for r in refs]
    pieces = []
    for set_name, run in itertools.groupby(refs, key=lambda r: r.feature_set):
        group = list(run)
        names = []
        for ref in group:
            column = (
                ref.feature
                if short.count(ref.feature) == 1
                else f"{ref.feature_set}__{ref.feature}"
            )
            if column in entity_df.columns:
                raise InvalidInput(
                    f"the entity frame already has a column {column!r}; rename it or drop it "
                    f"before joining {ref.feature_set}:{ref.feature}."
                )
            names.append(column)
        features = [r.feature for r in group]
        frame = frames.get(set_name)
        if frame is None or list(frame.columns) != features:
            frame = pd.DataFrame(
                {f: columns[f"{set_name}:{f}"].array for f in features}, index=entity_df.index
            )
        pieces.append(frame.set_axis(names, axis=1))
    out = pd.concat([entity_df, *pieces], axis=1)
    out.attrs = dict(entity_df.attrs)
    return out


def log_training_frame(
    backend: Backend,
    project: str,
    name: str,
    frame: pd.DataFrame,
    lineage: list[tuple[FeatureDefinition, list[str], str]],
) -> str:
    from relayml.data.sources import log_dataset

    version = log_dataset(backend, project, name, frame, source={"kind": "training_frame"})
    target = f"{project}/{version.ref}"
    nodes = [LineageNode(kind="dataset_version", key=target, label=version.ref)]
    edges = []
    for definition, names, source_key in lineage:
        fs_key = f"{project}/{definition.name}@{definition.version}"
        nodes.append(LineageNode(kind="feature_set_version", key=fs_key, label=definition.ref))
        edges.append(_edge("feature_set_version", fs_key, "dataset_version", target, "input_of"))
        for feature in names:
            f_key = f"{project}/{definition.name}:{feature}"
            nodes.append(
                LineageNode(kind="feature", key=f_key, label=f"{definition.name}:{feature}")
            )
            edges.append(_edge("feature", f_key, "dataset_version", target, "input_of"))
            edges.append(_edge("feature_set_version", fs_key, "feature", f_key, "part_of"))
        if source_key:
            kind, _, key = source_key.partition("|")
            relation = "input_of" if kind == "dataset_version" else "produced"
            edges.append(_edge(kind, key, "feature_set_version", fs_key, relation))
    backend.link(nodes, edges)
    return version.ref


def _edge(src_kind: str, src: str, dst_kind: str, dst: str, relation: str) -> LineageEdge:
    return LineageEdge(
        src_kind=src_kind, src_key=src, dst_kind=dst_kind, dst_key=dst, relation=relation
    )
