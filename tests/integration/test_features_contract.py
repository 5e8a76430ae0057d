"""The feature store on every transport (SQLite, PostgreSQL, HTTP): apply and plan with versions,
checks as gates through environments, training frames logged with lineage, impact."""

from __future__ import annotations

import textwrap
import uuid
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from relayml.domain.features import Entity, Feature, FeatureSet, Source
from relayml.domain.ports import Backend
from relayml.errors import GateFailed, InvalidInput, NotFound
from relayml.features import check, impact, training_frame
from relayml.features.declare import load_definitions, specs_of
from relayml.models.publish import log_model
from relayml.pipelines import pipeline, step

CUSTOMER = Entity("customer", join_keys=["customer_id"])


def _profile(ttl_days: int = 30, checks: list[dict[str, object]] | None = None) -> FeatureSet:
    return FeatureSet(
        name="customer",
        entity=CUSTOMER,
        source=Source(dataset="customers"),
        features=[Feature("tenure", "int64", owner="ana"), Feature("spend", "float64")],
        event_time="event_time",
        created_time="created_at",
        ttl=timedelta(days=ttl_days),
        checks=checks if checks is not None else [{"column": "tenure", "min": 0}],
        owner="ana",
    )


def _source(backend: Backend, project: str, tenure_first: int = 1) -> None:
    from relayml.data.sources import log_dataset

    frame = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "event_time": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-01-05"]),
            "created_at": pd.to_datetime(["2024-01-01", "2024-01-12", "2024-01-05"]),
            "tenure": [tenure_first, 2, 5],
            "spend": [10.0, 20.0, 50.0],
        }
    )
    log_dataset(backend, project, "customers", frame)


def test_apply_plans_versions_and_changes_nothing_twice(backend: Backend, project: str) -> None:
    specs = specs_of([CUSTOMER, _profile()])
    plan = backend.plan_features(project, specs)
    assert [(i.kind, i.name, i.action) for i in plan.items] == [
        ("entity", "customer", "add"),
        ("feature_set", "customer", "add"),
    ]
    with pytest.raises(NotFound, match="does not exist"):  # a plan stores nothing
        backend.get_feature_definition(project, "feature_set", "customer")
    assert backend.apply_features(project, specs).applied
    again = backend.apply_features(project, specs)
    assert not again.changed and {i.action for i in again.items} == {"unchanged"}
    changed = backend.apply_features(project, specs_of([CUSTOMER, _profile(ttl_days=60)]))
    item = next(i for i in changed.items if i.kind == "feature_set")
    assert (item.action, item.version, item.new_version) == ("change", 1, 2)
    assert any(line.startswith("~ ttl:") for line in item.changes)
    latest = backend.get_feature_definition(project, "feature_set", "customer")
    old = backend.get_feature_definition(project, "feature_set", "customer", version=1)
    assert (latest.version, latest.latest_version, old.version) == (2, 2, 1)
    assert old.declared().ttl == timedelta(days=30)  # type: ignore[union-attr]
    versions = backend.list_feature_definition_versions(project, "feature_set", "customer")
    assert [v.version for v in versions] == [2, 1]
    listed = backend.list_feature_definitions(project)
    assert [(d.kind, d.name, d.version) for d in listed] == [
        ("entity", "customer", 1),
        ("feature_set", "customer", 2),
    ]
    audit = backend.list_audit(entity_kind="feature_set")
    assert {e.action for e in audit if e.entity_id.startswith(project)} == {
        "features.add",
        "features.change",
    }


def test_bad_definitions_are_refused_with_one_clear_line(backend: Backend, project: str) -> None:
    with pytest.raises(InvalidInput, match="names entity 'customer', which is neither"):
        backend.apply_features(project, specs_of([_profile()]))
    with pytest.raises(InvalidInput, match="unknown definition kind 'table'"):
        backend.apply_features(project, [{"kind": "table", "name": "x"}])
    with pytest.raises(InvalidInput, match="declared twice"):
        backend.apply_features(project, specs_of([CUSTOMER, CUSTOMER]))
    bad = specs_of([CUSTOMER])[0] | {"join_keys": ["customer id"]}
    with pytest.raises(InvalidInput, match="join key 'customer id' must be an identifier"):
        backend.plan_features(project, [bad])
    backend.apply_features(project, specs_of([CUSTOMER, _profile()]))
    with pytest.raises(NotFound, match="Did you mean customer"):
        backend.get_feature_definition(project, "feature_set", "custmer")
    assert len(backend.list_feature_definitions(project)) == 2  # nothing half-written


def test_checks_gate_each_environment(backend: Backend, project: str) -> None:
    _source(backend, project, tenure_first=-3)  # fails tenure >= 0
    backend.apply_features(project, specs_of([CUSTOMER, _profile()]))
    with pytest.raises(GateFailed, match="none has run on it"):
        backend.promote_feature_set(project, "customer", "staging")
    report = check("customer", backend=backend, project=project)
    assert not report.passed and report.rows == 3
    assert report.latest_event_time is not None and report.latest_event_time.day == 10
    with pytest.raises(GateFailed, match="its latest checks failed"):
        backend.promote_feature_set(project, "customer", "staging")
    _source(backend, project, tenure_first=1)  # a new version of the dataset, now clean
    assert check("customer", backend=backend, project=project).passed
    with pytest.raises(GateFailed, match="never in staging"):
        backend.promote_feature_set(project, "customer", "production")
    staged = backend.promote_feature_set(project, "customer", "staging", reason="checked")
    assert staged.environments == {"staging": 1}
    live = backend.promote_feature_set(project, "customer", "production")
    assert live.environments == {"staging": 1, "production": 1}
    found = backend.get_feature_definition(
        project, "feature_set", "customer", environment="staging"
    )
    assert found.version == 1
    assert [c.passed for c in backend.list_feature_checks(project, "customer")] == [True, False]
    with pytest.raises(InvalidInput, match="unknown environment 'prod'"):
        backend.promote_feature_set(project, "customer", "prod")


ON_DEMAND = """
import pandas as pd
import relayml as relay

F = relay.features
customer = F.Entity("customer", join_keys=["customer_id"])
profile = F.FeatureSet(
    name="customer", entity=customer, source=F.Source(dataset="customers"),
    features=[F.Feature("tenure", "int64"), F.Feature("spend", "float64")],
    event_time="event_time", created_time="created_at",
)


@F.on_demand(
    inputs=["customer:spend"], request_fields=["amount"], features=[F.Feature("share")]
)
def spend_share(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"share": frame["amount"] / frame["spend"]})
"""


def test_training_frame_is_logged_with_lineage_to_models(
    backend: Backend, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _source(backend, project)
    module = tmp_path / f"features_{uuid.uuid4().hex[:8]}.py"
    module.write_text(textwrap.dedent(ON_DEMAND))
    monkeypatch.syspath_prepend(str(tmp_path))
    backend.apply_features(project, load_definitions(module))
    entities = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 3],
            "event_time": pd.to_datetime(["2024-01-11", "2024-01-13", "2024-03-01", "2024-01-01"]),
            "amount": [1.0, 2.0, 5.0, 4.0],
        }
    )
    features = ["customer:tenure", "customer:spend", "spend_share:share"]
    frame = training_frame(
        entities, features, as_of_known=True, name="churn_train", backend=backend, project=project
    )
    assert frame["tenure"].tolist()[:3] == [1, 2, 5] and pd.isna(frame["tenure"].iloc[3])
    assert frame["share"].tolist()[:3] == [0.1, 0.1, 0.1]
    assert frame.attrs["dataset"] == "churn_train@1"
    train = pd.DataFrame({"tenure": [0.0, 1.0]})
    model = LogisticRegression().fit(train, [0, 1])
    log_model(backend, project, model, "churn", train, datasets=["churn_train@1"])
    found = impact("customer:tenure", backend=backend, project=project)
    assert found.training_sets == ["churn_train@1"] and found.model_versions == ["churn/1"]
    assert impact("customer:spend", backend=backend, project=project).model_versions == ["churn/1"]
    graph = backend.lineage("feature_set_version", f"{project}/customer@1", direction="upstream")
    assert any(n.kind == "dataset_version" and n.label == "customers@1" for n in graph.nodes)


def test_training_frame_bad_input_is_one_clear_error(backend: Backend, project: str) -> None:
    _source(backend, project)
    backend.apply_features(project, specs_of([CUSTOMER, _profile()]))
    entities = pd.DataFrame({"customer_id": [1, 7], "ts": pd.to_datetime(["2024-01-11"] * 2)})

    def frame(features: list[str], **kwargs: object) -> pd.DataFrame:
        return training_frame(
            entities, features, backend=backend, project=project, name=None, **kwargs
        )

    with pytest.raises(
        InvalidInput, match=r"has no timestamp column 'event_time'.*customer_id, ts"
    ):
        frame(["customer:tenure"])
    with pytest.raises(InvalidInput, match="Did you mean customer:tenure"):
        frame(["customer:tenur"], event_time="ts")
    with pytest.raises(NotFound, match=r"feature set 'custmer'.*Did you mean customer:"):
        frame(["custmer:tenure"], event_time="ts")
    with pytest.raises(InvalidInput, match="not a feature reference"):
        frame(["tenure"], event_time="ts")
    with pytest.raises(InvalidInput, match="lacks join key customer_id"):
        training_frame(
            entities.rename(columns={"customer_id": "id"}),
            ["customer:tenure"],
            event_time="ts",
            backend=backend,
            project=project,
        )
    found = frame(["customer:tenure", "customer:spend"], event_time="ts")
    assert found["tenure"].tolist()[0] == 2 and pd.isna(found["tenure"].iloc[1])  # 7: never seen
    assert "dataset" not in found.attrs  # name=None: not logged


@step
def snapshots(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [i % 3 for i in range(rows)],
            "event_time": pd.date_range("2024-01-01", periods=rows, freq="D"),
            "visits": list(range(rows)),
        }
    )


@pipeline(name="tests:visits")
def visits_pipeline(rows: int = 6) -> object:
    return {"table": snapshots(rows)}


def test_a_pipeline_step_output_as_source_and_checks_validated_at_apply(
    backend: Backend, project: str
) -> None:
    bad = _profile(checks=[{"column": "tenure", "mni": 0}])
    with pytest.raises(InvalidInput, match="feature set 'customer': check 1"):
        backend.apply_features(project, specs_of([CUSTOMER, bad]))
    visits = FeatureSet(
        name="visits",
        entity="customer",
        source=Source(pipeline="tests:visits", step="snapshots"),
        features=[Feature("visits", "int64")],
    )
    backend.apply_features(project, specs_of([CUSTOMER, visits]))
    entities = pd.DataFrame(
        {"customer_id": [0, 1], "event_time": pd.to_datetime(["2024-01-05"] * 2)}
    )
    with pytest.raises(NotFound, match="has no finished run"):
        training_frame(entities, ["visits:visits"], backend=backend, project=project, name=None)
    visits_pipeline.run(backend=backend, project=project)
    frame = training_frame(entities, ["visits:visits"], backend=backend, project=project)
    assert frame["visits"].tolist() == [3, 4]  # days 4 (customer 0) and 5 (customer 1)
    graph = backend.lineage("feature_set_version", f"{project}/visits@1", direction="upstream")
    assert [n.kind for n in graph.nodes if n.kind == "pipeline_run"] == ["pipeline_run"]
