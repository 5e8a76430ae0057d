"""MLflow request bodies parse with orjson where it reads them as json does, else with json:
either way a body means what json.loads says it means."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from relayml.api.mlflow.common import _loads

_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    # json's own writing compares NaN (which is not equal to itself) and keeps int vs float
    return type(a) is type(b) and json.dumps(a) == json.dumps(b)


@given(st.dictionaries(st.text(), _VALUES, max_size=6))
def test_any_body_parses_as_json_reads_it(body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    assert _same(_loads(raw), json.loads(raw))


def test_the_bodies_orjson_reads_another_way() -> None:
    for raw in (
        b'{"step": 12345678901234567890, "v": -98765432109876543210}',  # past 64 bits
        b'{"value": NaN, "b": Infinity, "c": -Infinity}',  # tokens MLflow's JSON allows
        b'{"key": "\\ud800"}',  # a lone surrogate
        b'{"value": 1e400, "t": 0.00010001000100010001}',
        b'{"a": [1700000000000, 9223372036854775807, 9223372036854775808]}',
    ):
        assert _same(_loads(raw), json.loads(raw)), raw
