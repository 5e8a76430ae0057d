"""Feature inputs of a model on every transport: refused at log time when a feature does not
exist (with the closest names, nothing stored), and served with the missing-value rule of the
signature (a model that accepts missing values gets NaN, with the reason in the answer)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from relayml.data.sources import log_dataset
from relayml.domain.features import Entity, Feature, FeatureSet, Source
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput, NotFound
from relayml.features.declare import specs_of
from relayml.models.publish import log_model
from relayml.serving.metrics import ServerMetrics
from relayml.serving.runtime import Runtime
from relayml.serving.service import ModelService
from relayml.serving.sources import BackendSource
from relayml.serving.variant import ServeOptions

NOW = pd.Timestamp(datetime.now(UTC)).tz_localize(None).floor("s")
CUSTOMER = Entity("customer", join_keys=["customer_id"])


def _features(backend: Backend, project: str, description: str = "") -> None:
    log_dataset(backend, project, "customers", pd.DataFrame({
        "customer_id": [1, 2, 3],
        "event_time": [NOW - pd.Timedelta(days=d) for d in (1, 2, 45)],
        "tenure": [10, 20, 30],
        "spend": [15.0, 25.0, 35.0],
    }))  # fmt: skip
    profile = FeatureSet(
        name="customer", entity=CUSTOMER, source=Source(dataset="customers"),
        features=[Feature("tenure", "int64"), Feature("spend", "float64")],
        event_time="event_time", ttl=timedelta(days=30), checks=[], description=description,
    )  # fmt: skip
    backend.apply_features(project, specs_of([CUSTOMER, profile]))


def _model() -> tuple[object, pd.DataFrame]:
    from sklearn.ensemble import HistGradientBoostingRegressor

    x = pd.DataFrame({"tenure": [10.0, 20.0, np.nan, 40.0], "spend": [1.0, np.nan, 3.0, 4.0]})
    return HistGradientBoostingRegressor(max_iter=5).fit(x, [1.0, 2.0, 3.0, 4.0]), x


def test_a_feature_that_does_not_exist_is_refused_at_log_time(
    backend: Backend, project: str
) -> None:
    _features(backend, project)
    model, x = _model()
    with pytest.raises(InvalidInput, match=r"Did you mean customer:tenure"):
        log_model(
            backend, project, model, "m", x, feature_inputs=["customer:tenur", "customer:spend"]
        )
    with pytest.raises(NotFound, match=r"feature set 'custmer'.*Did you mean customer:tenure"):
        log_model(backend, project, model, "m", x, feature_inputs=["custmer:tenure"])
    with pytest.raises(InvalidInput, match=r"column 'plan', which the model does not take"):
        log_model(backend, project, model, "m", x, feature_inputs={"plan": "customer:tenure"})
    with pytest.raises(NotFound):
        backend.get_model(project, "m")  # nothing was stored


def test_a_model_that_accepts_missing_values_gets_them_with_the_reason(
    backend: Backend, project: str
) -> None:
    _features(backend, project)
    for env in ("staging", "production"):
        backend.promote_feature_set(project, "customer", env)
    backend.materialize_feature_set(project, "customer", "production")
    model, x = _model()
    version = log_model(
        backend, project, model, "m", x, feature_inputs=["customer:tenure", "customer:spend"]
    )
    assert version.details["feature_inputs"]["columns"] == {
        "tenure": "customer:tenure", "spend": "customer:spend",
    }  # fmt: skip
    impact = backend.lineage(
        "feature", f"{project}/customer:spend", depth=2, direction="downstream"
    )
    assert "m/1" in {n.label for n in impact.nodes if n.kind == "model_version"}
    metrics = ServerMetrics()
    runtime = Runtime(
        BackendSource(backend, project), ["m/1"], ServeOptions(), on_lookup=metrics.looked_up
    )
    runtime.load()
    service = ModelService(runtime, metrics, None, None)
    served = service.model("m")
    rows = [{"customer_id": 1}, {"customer_id": 3}, {"customer_id": "nobody"}]
    answer = asyncio.run(service.answer_rows(served, rows, features=True))
    expected = model.predict(  # type: ignore[attr-defined]
        pd.DataFrame({"tenure": [10.0, np.nan, np.nan], "spend": [15.0, np.nan, np.nan]})
    )
    assert np.allclose(answer.values, expected)
    assert answer.features is not None
    fresh, stale, unknown = answer.features
    assert (
        fresh["values"] == {"tenure": 10, "spend": 15.0}
        and fresh["sets"]["customer"]["missing"] == {}
    )
    assert stale["values"] == {"tenure": None, "spend": None}
    assert "past its TTL" in stale["sets"]["customer"]["missing"]["tenure"]
    assert unknown["sets"]["customer"]["missing"]["spend"].startswith("no value for this entity")
    text = metrics.exposition().decode()
    assert 'relay_feature_lookups_total{model="m",variant="v1"} 1.0' in text
    assert 'relay_feature_lookup_rows_total{model="m",variant="v1"} 3.0' in text

    # a new version of the feature set promoted while serving: the reload resolves it again
    _features(backend, project, description="version 2")
    for env in ("staging", "production"):
        backend.promote_feature_set(project, "customer", env)
    backend.materialize_feature_set(project, "customer", "production")
    runtime._poll()  # no event loop: the new routing table is swapped in at once
    served = service.model("m")
    assert served.live[0].features is not None
    assert served.live[0].features.fetcher.versions == {"customer": 2}
    again = asyncio.run(service.answer_rows(served, rows[:1], features=True))
    assert again.features is not None and again.features[0]["sets"]["customer"]["version"] == 2
    assert again.features[0]["values"] == {"tenure": 10, "spend": 15.0}
