"""Feature inputs without I/O: what a request carries, and how entity keys are validated."""

from __future__ import annotations

import pytest

from relayml.domain.feature_inputs import FeatureInputs, feature_inputs_of
from relayml.domain.models import ColumnSpec, Signature
from relayml.errors import InvalidInput
from relayml.serving.codec import InputCodec

SIGNATURE = Signature(
    inputs=[
        ColumnSpec(name="tenure", dtype="int64"),
        ColumnSpec(name="plan", dtype="string"),
        ColumnSpec(name="spend", dtype="float64", nullable=True),
    ],
    outputs=[ColumnSpec(name="prediction", dtype="int64")],
    output_shape=[-1],
)
INPUTS = FeatureInputs.model_validate({
    "columns": {"tenure": "customer:tenure", "spend": "customer:spend"},
    "sets": {"customer": {"entity": "customer", "keys": ["customer_id"], "version": 1}},
})  # fmt: skip


def test_a_request_carries_the_keys_then_the_inputs_that_are_not_features() -> None:
    request = INPUTS.request_signature(SIGNATURE)
    assert [(s.name, s.dtype) for s in request.inputs] == [
        ("customer_id", "key"),
        ("plan", "string"),
    ]
    assert request.outputs == SIGNATURE.outputs
    assert (INPUTS.set_of("spend"), INPUTS.feature_of("spend")) == ("customer", "spend")
    assert feature_inputs_of({"feature_inputs": INPUTS.model_dump()}) == INPUTS
    assert feature_inputs_of({}) is None


def test_an_entity_key_is_a_whole_number_or_a_string() -> None:
    codec = InputCodec(INPUTS.request_signature(SIGNATURE))
    columns = codec.from_records(
        [{"customer_id": 42, "plan": "pro"}, {"customer_id": "a-7", "plan": "x"}]
    )
    assert columns.arrays["customer_id"].tolist() == [42, "a-7"]
    for bad, shown in ((True, "true"), (4.5, "4.5"), (None, "null")):
        with pytest.raises(InvalidInput, match="column 'customer_id', row 0") as caught:
            codec.from_records([{"customer_id": bad, "plan": "pro"}])
        assert "entity key" in caught.value.message and shown in caught.value.message
    with pytest.raises(InvalidInput, match="missing customer_id"):
        codec.from_records([{"plan": "pro"}])
