"""Feature inputs in the model server: per micro-batch, ONE online lookup for all its entity keys.

A model logged with ``feature_inputs`` takes requests holding its entities' join keys and its
other (request-time) inputs; the server looks the features up in the online table of the
deployment's environment (a pinned ``name/version`` reads production) and builds the model's
columns in signature order. The feature sets are resolved when the model loads (and again when
a redeploy loads it), never per request.

Missing values (an entity never materialised, a value past its TTL, a null in the source): when
the model's signature accepts missing values in that column (its input example had one), the
model gets NaN/None; otherwise the request is refused with 422 naming the entity and feature.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from relayml.domain.feature_inputs import FeatureInputs
from relayml.domain.features_online import OnlineRow
from relayml.domain.models import ColumnSpec, Signature
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput
from relayml.features.online_store import OnlineQuery, entity_key, fetch, prepare
from relayml.store import Store

__all__ = ["ApiFetcher", "FeatureJoin", "OnlineFetcher", "StoreFetcher", "fetcher_for"]

_DTYPES = {"float64": np.float64, "int64": np.int64, "bool": np.bool_}


class OnlineFetcher(Protocol):
    """Looks entities up in one environment's online table: feature set -> keys -> rows."""

    environment: str
    versions: dict[str, int]

    def __call__(self, keys: dict[str, list[str]]) -> dict[str, list[OnlineRow]]:
        """Each set's rows for its keys, in order (missing ones say why)."""
        ...


class StoreFetcher:
    """Reads the online table of the metadata store: one SELECT per call, definitions prepared."""

    def __init__(self, store: Store, query: OnlineQuery) -> None:
        self.store, self.query = store, query
        self.environment = query.environment
        self.versions = {name: s.version for name, s in query.sets.items()}

    def __call__(self, keys: dict[str, list[str]]) -> dict[str, list[OnlineRow]]:
        """One SELECT for every set and key of the batch."""
        return fetch(self.store, self.query, keys)


class ApiFetcher:
    """Asks a `relay server` (RELAY_SERVER_URL) for the values: one call per feature set."""

    def __init__(self, backend: Backend, project: str, environment: str, sets: list[str]) -> None:
        self.backend, self.project, self.environment = backend, project, environment
        self.versions = {
            name: backend.get_feature_definition(
                project, "feature_set", name, environment=environment
            ).version
            for name in sets
        }

    def __call__(self, keys: dict[str, list[str]]) -> dict[str, list[OnlineRow]]:
        """The platform's GET .../online per set."""
        return {
            name: self.backend.online_features(
                self.project, name, wanted, environment=self.environment
            ).rows
            for name, wanted in keys.items()
        }


def fetcher_for(
    backend: Backend, project: str, inputs: FeatureInputs, environment: str
) -> OnlineFetcher:
    """The fetcher of a model's feature sets in `environment`: the backend's store when it has
    one (SQLite or PostgreSQL), else its `relay server`; InvalidInput for a pinned version
    that is not the environment's."""
    sets = list(inputs.sets)
    store: Store | None = getattr(backend, "store", None)
    found: OnlineFetcher = (
        StoreFetcher(store, prepare(backend, store, project, sets, environment))
        if store is not None
        else ApiFetcher(backend, project, environment, sets)
    )
    for column, text in inputs.columns.items():
        name = text.partition(":")[0]
        set_name, _, pinned = name.partition("@")
        if pinned and int(pinned) != found.versions[set_name]:
            raise InvalidInput(
                f"the model reads {text!r} (column {column!r}), but {environment} holds "
                f"{set_name}@{found.versions[set_name]}; promote version {pinned} there or log "
                "the model against the served version."
            )
    return found


class FeatureJoin:
    """Completes a batch of requests with its features: one lookup, columns in signature order."""

    def __init__(
        self,
        inputs: FeatureInputs,
        signature: Signature,
        fetcher: OnlineFetcher,
        on_lookup: Callable[[int, float], None] | None = None,
    ) -> None:
        self.inputs = inputs
        self.request = inputs.request_signature(signature)
        self.fetcher = fetcher
        self.environment = fetcher.environment
        self._on_lookup = on_lookup
        self._specs = {s.name: s for s in signature.inputs}
        self._sets = {name: list(s.keys) for name, s in inputs.sets.items()}
        self._columns = [
            (column, inputs.set_of(column), inputs.feature_of(column)) for column in inputs.columns
        ]
        # per feature set, its float64 columns: read in one matrix (None -> NaN), one call a set;
        # with the positions of those that take no missing value
        floats: dict[str, list[tuple[str, str]]] = {}
        for column, set_name, feature in self._columns:
            if self._specs[column].dtype == "float64":
                floats.setdefault(set_name, []).append((column, feature))
        self._floats = {
            name: (
                columns,
                [feature for _, feature in columns],
                np.array([j for j, (c, _) in enumerate(columns) if not self._specs[c].nullable]),
            )
            for name, columns in floats.items()
        }
        self._others = [c for c in self._columns if self._specs[c[0]].dtype != "float64"]

    def complete(
        self, arrays: Mapping[str, np.ndarray], rows: int
    ) -> tuple[dict[str, np.ndarray], list[dict[str, OnlineRow]]]:
        """The request columns plus the feature columns, and each row's looked-up rows by set."""
        keys = {
            name: [
                entity_key(values) for values in zip(*(arrays[k] for k in key_names), strict=True)
            ]
            for name, key_names in self._sets.items()
        }
        began = time.perf_counter()
        found = self.fetcher(keys)
        if self._on_lookup is not None:
            self._on_lookup(rows, time.perf_counter() - began)
        out = dict(arrays)
        others = self._others
        gaps: dict[str, int] = {}  # a column taking no missing value -> its first row without one
        for set_name, (columns, features, required) in self._floats.items():
            answers = found[set_name]
            try:
                matrix = np.array(
                    [[a.values.get(f) for f in features] for a in answers], dtype=np.float64
                ).reshape(len(answers), len(features))
            except (TypeError, ValueError):  # a value that is no number: said per column below
                others = [*others, *((c, set_name, f) for c, f in columns)]
                continue
            if required.size:
                missing = np.isnan(matrix[:, required])
                for at in np.flatnonzero(missing.any(axis=0)).tolist():
                    gaps[columns[int(required[at])][0]] = int(np.argmax(missing[:, at]))
            for j, (column, _) in enumerate(columns):
                out[column] = matrix[:, j]
        for column, set_name, feature in others:
            spec = self._specs[column]
            values = [a.values.get(feature) for a in found[set_name]]
            if not spec.nullable and None in values:
                gaps[column] = values.index(None)
            else:
                out[column] = _array(spec, values, f"{set_name}:{feature}")
        for column, set_name, feature in self._columns if gaps else ():  # the first, in order
            if column in gaps:
                index = gaps[column]
                raise InvalidInput(self._missing(index, set_name, feature, found[set_name][index]))
        used = [{name: found[name][i] for name in found} for i in range(rows)]
        return out, used

    def _missing(self, index: int, set_name: str, feature: str, answer: OnlineRow) -> str:
        keys = self.inputs.sets[set_name]
        reason = answer.missing.get(feature, "no value")
        return (
            f"row {index}: feature {set_name}:{feature} of {keys.entity} {answer.key} "
            f"({', '.join(keys.keys)}) has no online value in {self.environment}: {reason}. "
            "The model needs one (its signature accepts no missing value there): materialise "
            f"fresher values (`relay features materialize {set_name} --env {self.environment}`)"
            ", or log the model with an input example holding missing values."
        )

    def describe(self, used: Mapping[str, OnlineRow]) -> dict[str, Any]:
        """One row's feature values and where they came from, for a response."""
        values: dict[str, Any] = {}
        for column, set_name, feature in self._columns:
            values[column] = used[set_name].values.get(feature)
        sets = {
            name: {
                "key": row.key,
                "version": self.fetcher.versions.get(name),
                "event_time": None if row.event_time is None else row.event_time.isoformat(),
                "missing": row.missing,
            }
            for name, row in used.items()
        }
        return {"values": values, "sets": sets}


def _array(spec: ColumnSpec, values: Sequence[Any], ref: str) -> np.ndarray:
    """A column of the model's dtype; None stays None (object array) or NaN for floats."""
    dtype = _DTYPES.get(spec.dtype)
    try:
        if spec.dtype == "float64":
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        if dtype is not None and None not in values:
            return np.array(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(
            f"feature {ref} holds {values[0]!r}-like values, but the model's column "
            f"{spec.name!r} takes {spec.dtype}; declare the feature with that dtype."
        ) from None
    return np.array(list(values), dtype=object)
