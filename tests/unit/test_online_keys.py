"""The online table's entity keys: the same key whether a join key was read as int or float."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relayml.errors import InvalidInput
from relayml.features.online_store import entity_key


def test_keys_are_the_join_values_joined_and_integral_floats_are_ints() -> None:
    assert entity_key([1]) == entity_key([np.int64(1)]) == entity_key([np.float64(1.0)]) == "1"
    assert entity_key(["eu", 2]) == "eu|2"
    assert entity_key([1.5]) == "1.5"
    assert entity_key([pd.Timestamp("2026-01-01")]) == "2026-01-01T00:00:00"


def test_a_value_that_is_not_a_scalar_is_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot be stored online"):
        entity_key([[1, 2]])


def test_the_sdk_function_is_not_shadowed_by_a_module() -> None:
    import relayml.features
    import relayml.features.online_store  # loaded, as a lookup loads it

    assert callable(relayml.features.online) and callable(relayml.features.materialize)
