"""MLflow's search syntax as relayml reads it: run filters translated to relayml's grammar, and
the small name-and-tags language of experiment and model searches."""

from __future__ import annotations

import pytest

from relayml.api.mlflow.errors import MlflowError
from relayml.api.mlflow.filters import matches, parse_filter
from relayml.domain.search import parse_filter as relay_parse
from relayml.errors import InvalidInput
from relayml.interop.mlflow_runs import translate_filter, translate_order_by


@pytest.mark.parametrize(
    ("mlflow", "relay"),
    [
        (
            "metrics.loss < 0.5 and params.alpha = '0.1'",
            "metrics.loss < 0.5 and params.alpha = '0.1'",
        ),
        ("attributes.run_name = 'a'", "attributes.name = 'a'"),
        (
            "attribute.user_id = 'ada' or attr.status = 'FAILED'",
            "attributes.user = 'ada' or attributes.status = 'FAILED'",
        ),
        ("attributes.`run_id` IN ('x', 'y')", "attributes.run_id IN ('x', 'y')"),
        ("attributes.created > 5", "attributes.start_time > 5"),
        # quoted values are left alone, even when they look like attributes
        ("tags.note = 'attributes.run_name'", "tags.note = 'attributes.run_name'"),
        # a key that holds a prefix's word is a key
        (
            "tags.attr.x = 'a' and params.datasets.n = '1'",
            "tags.attr.x = 'a' and params.datasets.n = '1'",
        ),
        ("", None),
    ],
)
def test_run_filters_become_relaymls_grammar(mlflow: str, relay: str | None) -> None:
    assert translate_filter(mlflow) == relay
    if relay:
        assert relay_parse(relay) is not None


def test_order_by_is_translated_and_what_relayml_cannot_search_is_named() -> None:
    assert translate_order_by(["attributes.start_time DESC", "metrics.loss"]) == [
        "attributes.start_time DESC",
        "metrics.loss",
    ]
    with pytest.raises(InvalidInput, match=r"datasets\.\* is not supported"):
        translate_filter("datasets.name = 'customers'")
    with pytest.raises(InvalidInput, match="artifact_uri is not supported"):
        translate_filter("attributes.artifact_uri = 'x'")
    with pytest.raises(InvalidInput, match="unknown attribute 'colour'"):
        translate_filter("attributes.colour = 'red'")


def test_name_and_tag_filters() -> None:
    clauses = parse_filter("name LIKE 'churn%' and tags.team = 'risk' and tag.`x.y` != 'no'")
    assert matches("churn v1", {"team": "risk"}, clauses)
    assert not matches("churn v1", {"team": "risk", "x.y": "no"}, clauses)
    assert not matches("fraud", {"team": "risk"}, clauses)
    assert matches("Churn", {}, parse_filter("name ILIKE 'ch_rn'"))
    assert matches("it's", {}, parse_filter("name = 'it''s'"))
    assert matches("a", {}, parse_filter('name = "a"'))
    with pytest.raises(MlflowError, match="unsupported filter") as caught:
        parse_filter("creation_time > 5")
    assert caught.value.code == "INVALID_PARAMETER_VALUE" and caught.value.status == 400
