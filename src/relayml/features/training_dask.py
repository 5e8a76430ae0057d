"""Point-in-time joins on a Dask cluster, for feature sources bigger than this process's memory.

The workers read a dataset source's Parquet from the artifact store themselves (over HTTP, where
no artifact store is shared, the source comes through this process instead). Source and entity
rows are hash-partitioned by the entity's join keys into the same partitions, so each pair of
partitions holds every row of its entities and is joined on a worker with the same code as the
in-process join (:func:`relayml.features.training.join_feature_set`); only the joined feature
columns, keyed by entity row, travel back. The entity frame and the result stay in memory here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from relayml.domain.features import FeatureSet
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput

__all__ = ["dask_client", "join_on_dask", "source_on_dask"]

_ROW = "__relay_row"
_PART = "__relay_part"


def dask_client(executor: str) -> Any:
    """A client of the scheduler at dask://host:port; SchedulerUnavailable if unreachable."""
    from relayml.monitoring.windows_dask import _client

    return _client(executor)


def source_on_dask(backend: Backend, project: str, fs: FeatureSet) -> tuple[Any, str]:
    """The feature set's source as a Dask DataFrame, read by the workers where they can, and
    the lineage key of what it was read from."""
    import dask.dataframe as dd

    from relayml.features.training import load_source

    blobs = getattr(backend, "blobs", None)
    settings = getattr(backend, "settings", None)
    if fs.source.dataset is not None and blobs is not None and settings is not None:
        version = backend.get_dataset_version(project, fs.source.dataset)
        frame = dd.read_parquet(
            blobs.path_of(version.sha256), storage_options=dict(settings.artifacts_options) or None
        )
        return frame, f"dataset_version|{project}/{version.ref}"
    loaded, key = load_source(backend, project, fs)
    parts = max(1, len(loaded) // 1_000_000 + 1)
    return dd.from_pandas(loaded, npartitions=parts), key  # type: ignore[no-untyped-call]


def _with_part(frame: pd.DataFrame, keys: Sequence[str], partitions: int) -> pd.DataFrame:
    """The rows with their partition: a hash of the join keys (numbers as float64, others as
    text, so that 7 in an int64 column and 7 in an Int64 column meet)."""
    plain = pd.DataFrame(
        {
            key: frame[key].astype("float64")
            if pd.api.types.is_numeric_dtype(frame[key])
            and not pd.api.types.is_bool_dtype(frame[key])
            else frame[key].astype(str)
            for key in keys
        }
    )
    hashed = pd.util.hash_pandas_object(plain, index=False).to_numpy()
    return frame.assign(**{_PART: (hashed % np.uint64(partitions)).astype(np.int64)})


def _join_part(
    entity: pd.DataFrame,
    source: pd.DataFrame,
    event_time: str,
    fs: FeatureSet,
    keys: Sequence[str],
    features: Sequence[str],
    as_of_known: bool,
) -> pd.DataFrame:
    from relayml.features.training import join_feature_set

    values = join_feature_set(
        entity, event_time, fs, keys, source, features, as_of_known=as_of_known
    )
    values.insert(0, _ROW, entity[_ROW].to_numpy())
    return values.reset_index(drop=True)


def join_on_dask(
    entity_df: pd.DataFrame,
    event_time: str,
    fs: FeatureSet,
    keys: Sequence[str],
    source: Any,
    features: Sequence[str],
    *,
    as_of_known: bool = False,
    partitions: int | None = None,
) -> pd.DataFrame:
    """Like join_feature_set, computed partition by partition on the current Dask client."""
    import dask.dataframe as dd

    missing = [c for c in [*keys, fs.event_time, *features] if c not in source.columns]
    if missing:
        raise InvalidInput(
            f"the source of feature set {fs.name!r} ({fs.source.describe()}) has no column "
            f"{', '.join(missing)}."
        )
    parts = partitions or max(2, source.npartitions)
    wanted = [*keys, fs.event_time, *([fs.created_time] if fs.created_time else []), *features]
    src = source[list(dict.fromkeys(wanted))].map_partitions(_with_part, keys, parts)
    entities = entity_df[[*keys, event_time]].assign(**{_ROW: np.arange(len(entity_df))})
    ent = dd.from_pandas(entities, npartitions=parts)  # type: ignore[no-untyped-call]
    ent = ent.map_partitions(_with_part, keys, parts)
    src = src.shuffle(on=_PART, npartitions=parts)
    ent = ent.shuffle(on=_PART, npartitions=parts)
    meta = pd.DataFrame({_ROW: pd.Series(dtype="int64")}).join(source[list(features)]._meta)
    joined = dd.map_partitions(  # type: ignore[no-untyped-call]
        _join_part,
        ent,
        src,
        event_time,
        fs,
        list(keys),
        list(features),
        as_of_known,
        meta=meta,
        align_dataframes=False,
    ).compute()
    joined = joined.set_index(_ROW).reindex(np.arange(len(entity_df)))
    return joined.set_axis(entity_df.index)
