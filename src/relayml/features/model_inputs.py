"""Check a model's declared feature inputs against the registry when the model is logged.

``log_model(..., feature_inputs=["customer:tenure"])`` names features the model server fetches
online by entity key; each must exist in a feature set (not an on-demand set, which has no
online values), be one of the model's input columns, and its entity's join keys must not be
feature columns themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from relayml.domain.feature_inputs import FeatureInputs, FeatureSetInput
from relayml.domain.features import FeatureSet, parse_feature_ref
from relayml.domain.models import Signature
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput

__all__ = ["resolve_feature_inputs"]


def _columns(declared: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    """Input column -> feature ref; a list names columns as training_frame does (by feature,
    set__feature when two sets share a feature name)."""
    if isinstance(declared, Mapping):
        return {str(column): str(ref) for column, ref in declared.items()}
    if isinstance(declared, str) or not isinstance(declared, Sequence):
        raise InvalidInput(
            "feature_inputs must be a list of features (['customer:tenure']) or a mapping of "
            "input column to feature ({'tenure': 'customer:tenure'})."
        )
    refs = [parse_feature_ref(str(text)) for text in declared]
    short = [r.feature for r in refs]
    return {
        (r.feature if short.count(r.feature) == 1 else f"{r.feature_set}__{r.feature}"): str(r)
        for r in refs
    }


def resolve_feature_inputs(
    backend: Backend, project: str, signature: Signature, declared: Any
) -> FeatureInputs:
    """The feature inputs of a model about to be logged; NotFound/InvalidInput naming the
    closest features or columns when one does not fit."""
    from relayml.features.training import _Resolver  # loads pandas: only when features are named

    columns = _columns(declared)
    if not columns:
        raise InvalidInput("feature_inputs is empty: name at least one feature, or leave it out.")
    if signature.input_kind != "dataframe":
        raise InvalidInput(
            "feature inputs need a model that takes named columns: log it with a DataFrame "
            "input example whose columns include the features."
        )
    names = [s.name for s in signature.inputs]
    resolver = _Resolver(backend, project)
    sets: dict[str, FeatureSetInput] = {}
    for column, text in columns.items():
        ref = parse_feature_ref(text)
        found = resolver.definition(ref)  # NotFound / InvalidInput with the closest names
        if column not in names:
            raise InvalidInput(
                f"feature input {text!r} is read into column {column!r}, which the model does "
                f"not take (its columns: {', '.join(names)}); name the column with "
                "feature_inputs={'<column>': '" + text + "'}."
            )
        if found.kind != "feature_set":
            raise InvalidInput(
                f"{text!r} is an on-demand feature, which has no online values; compute it in "
                "the model (or send it in the request) instead."
            )
        fs = found.declared()
        assert isinstance(fs, FeatureSet)
        keys = resolver.entity_keys(fs)
        clash = [k for k in keys if k in columns]
        if clash:
            raise InvalidInput(
                f"join key {', '.join(clash)} of entity {fs.entity!r} is also declared as a "
                "feature column; a request carries the keys, so they cannot be looked up."
            )
        known = sets.get(fs.name)
        if known is not None and known.version != found.version:
            raise InvalidInput(
                f"feature set {fs.name!r} is named at two versions ({known.version} and "
                f"{found.version}); the server reads one version online."
            )
        sets[fs.name] = FeatureSetInput(entity=fs.entity, keys=keys, version=found.version)
    return FeatureInputs(columns=columns, sets=sets)
