"""A model version's feature inputs: input columns the model server looks up online by entity key.

Stored in the version's details under ``feature_inputs`` when the model is logged with
``feature_inputs=[...]``; a request then carries the entities' join keys (``customer_id``)
instead of those columns, and the server fetches their values per micro-batch.

    {"columns": {"tenure": "customer:tenure"},
     "sets": {"customer": {"entity": "customer", "keys": ["customer_id"], "version": 1}}}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from relayml.domain.feature_refs import parse_feature_ref
from relayml.domain.models import ColumnSpec, Signature

__all__ = ["DETAILS_KEY", "KEY_DTYPE", "FeatureInputs", "FeatureSetInput", "feature_inputs_of"]

DETAILS_KEY = "feature_inputs"
KEY_DTYPE = "key"  # a request column holding an entity's join key: a whole number or a string

_STORED = ConfigDict(frozen=True)


class FeatureSetInput(BaseModel):
    """One feature set a model reads: its entity, join keys, and version when it was logged."""

    model_config = _STORED
    entity: str
    keys: list[str]
    version: int = Field(description="the feature set's version when the model was logged")


class FeatureInputs(BaseModel):
    """Which input columns are features (column -> set:feature) and how to find their entities."""

    model_config = _STORED
    columns: dict[str, str]
    sets: dict[str, FeatureSetInput]

    def set_of(self, column: str) -> str:
        """The feature set a feature column is read from."""
        return parse_feature_ref(self.columns[column]).feature_set

    def feature_of(self, column: str) -> str:
        """The feature (in its set) a feature column holds."""
        return parse_feature_ref(self.columns[column]).feature

    def key_columns(self) -> list[str]:
        """The request fields naming the entities, in first-use order."""
        return list(dict.fromkeys(k for s in self.sets.values() for k in s.keys))

    def request_signature(self, signature: Signature) -> Signature:
        """What a request carries: the join keys, then the inputs that are not features."""
        inputs = {s.name: s for s in signature.inputs}
        fields = [inputs.get(k) or ColumnSpec(name=k, dtype=KEY_DTYPE) for k in self.key_columns()]
        taken = {f.name for f in fields}
        fields += [
            s for s in signature.inputs if s.name not in self.columns and s.name not in taken
        ]
        return signature.model_copy(update={"inputs": fields, "input_kind": "dataframe"})


def feature_inputs_of(details: dict[str, Any] | None) -> FeatureInputs | None:
    """The feature inputs a version's details declare, or None."""
    found = (details or {}).get(DETAILS_KEY)
    return FeatureInputs.model_validate(found) if found else None
