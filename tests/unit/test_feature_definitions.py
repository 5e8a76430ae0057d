"""Feature definitions in the domain: validation, references, diffs, and the Jupyter view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from relayml.domain.features import (
    Entity,
    Feature,
    FeatureDefinition,
    FeatureSet,
    Source,
    diff_specs,
    parse_feature_ref,
    spec_hash,
)
from relayml.errors import InvalidInput


def _set(**changes: object) -> FeatureSet:
    fields: dict[str, object] = {
        "name": "customer",
        "entity": Entity("customer", join_keys=["customer_id"]),
        "source": Source(dataset="customers"),
        "features": [Feature("tenure", "int64", description="<b>months</b>")],
    }
    return FeatureSet(**{**fields, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"features": [Feature("a"), Feature("a")]}, "feature names repeat: a"),
        ({"features": [Feature("event_time")]}, "event_time is a time column"),
        ({"ttl": timedelta(0)}, "ttl must be positive"),
        ({"name": "bad name"}, "feature set name 'bad name'"),
        ({"source": {"dataset": "a", "pipeline": "m:f"}}, "either a dataset"),
        ({"source": {"pipeline": "m:f"}}, "names its step too"),
        ({"features": []}, "at least 1 item"),
    ],
)
def test_bad_feature_sets_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _set(**changes)


def test_features_entities_and_references() -> None:
    with pytest.raises(ValidationError, match="dtype 'int' is not one of"):
        Feature("x", "int")
    with pytest.raises(ValidationError, match="repeat a column"):
        Entity("c", join_keys=["a", "a"])
    assert str(parse_feature_ref("customer@2:tenure")) == "customer@2:tenure"
    assert parse_feature_ref(" customer:tenure ").version is None
    for bad in ("tenure", "customer:", "customer@x:tenure", "a:b:c"):
        with pytest.raises(InvalidInput, match="not a feature reference"):
            parse_feature_ref(bad)


def test_diffs_and_hashes_name_what_changed() -> None:
    old = _set().model_dump(mode="json")
    new = _set(
        ttl=timedelta(days=30), features=[Feature("tenure", "int64"), Feature("plan", "string")]
    ).model_dump(mode="json")
    assert diff_specs(old, new) == ["+ feature plan", "~ feature tenure", '~ ttl: null -> "P30D"']
    assert spec_hash(old) == spec_hash(dict(reversed(list(old.items()))))
    assert spec_hash(old) != spec_hash(new)


def test_jupyter_shows_a_feature_set_as_an_escaped_table() -> None:
    html = _set()._repr_html_()
    assert "<b>feature set customer</b>" in html and "&lt;b&gt;months&lt;/b&gt;" in html
    stored = FeatureDefinition(
        project="churn",
        kind="feature_set",
        name="customer",
        version=2,
        latest_version=3,
        spec={**_set().model_dump(mode="json"), "kind": "feature_set"},
        spec_hash="0" * 64,
        environments={"staging": 2},
        created_by="ana",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    view = stored._repr_html_()
    assert "customer@2" in view and "staging: v2" in view and "<td>tenure</td>" in view
