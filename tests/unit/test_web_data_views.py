"""What the data pages compute for display, without I/O: chosen columns, sort fields, compared
params, parallel coordinates, histograms, lineage links and a pipeline run's DAG."""

from __future__ import annotations

import datetime as dt

import relayml.api.app  # noqa: F401 - first: relayml.api imports relayml.web, which imports it
from relayml.domain.entities import Run
from relayml.domain.lineage import LineageEdge, LineageGraph, LineageNode
from relayml.domain.pipelines import PipelineRun, StepRun
from relayml.tracking.series import MetricSeries
from relayml.web.pages.datasets import histogram_svg
from relayml.web.pages.lineage import node_href
from relayml.web.pages.pipelines import step_dag, timeline
from relayml.web.pages.runs_view import (
    Column,
    chart_data,
    differing,
    order_field,
    parallel_coordinates,
    parse_columns,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _run(run_id: str, params: dict[str, str], metrics: dict[str, float]) -> Run:
    return Run(id=run_id, project="p", experiment="e", name=run_id, status="FINISHED", user="u",
               start_time=T0, params=params, metrics=metrics)  # fmt: skip


def test_columns_are_parsed_deduplicated_and_bounded() -> None:
    assert parse_columns("params.lr, metrics.auc,params.lr,tags.x,bogus,metrics.") == [
        Column("params", "lr"),
        Column("metrics", "auc"),
    ]
    assert len(parse_columns(",".join(f"metrics.m{i}" for i in range(100)))) == 24
    assert order_field("metrics", "auc") == "metrics.auc"
    assert order_field("params", "my key") == "`params.my key`"  # back-quoted for the grammar
    assert order_field("attribute", "start_time") == "start_time"


def test_compared_runs_mark_differences_and_draw_one_line_each() -> None:
    runs = [
        _run("a", {"lr": "0.1", "model": "gbm"}, {"auc": 0.8}),
        _run("b", {"lr": "0.1", "model": "lr"}, {"auc": 0.7}),
        _run("c", {"lr": "0.1"}, {"auc": 0.9}),
    ]
    assert differing(runs, "params") == [
        ("lr", ["0.1", "0.1", "0.1"], False),
        ("model", ["gbm", "lr", None], True),
    ]
    plot = parallel_coordinates(runs, {r.id: r.id for r in runs})
    assert plot is not None and [a.label for a in plot["axes"]] == [
        "lr (param)",
        "model (param)",
        "auc",
    ]
    auc = plot["axes"][2]
    assert auc.place["c"] < auc.place["a"] < auc.place["b"]  # highest at the top
    lines = {line["label"]: line["d"] for line in plot["lines"]}
    assert lines["c"].count("L") == 1 and lines["a"].count("L") == 2  # c has no model: skipped
    assert parallel_coordinates(runs[:1], {"a": "a"}) is not None
    assert parallel_coordinates([_run("x", {}, {"auc": 1.0})], {"x": "x"}) is None


def test_chart_data_aligns_runs_on_shared_steps_and_time_in_seconds() -> None:
    series = MetricSeries("loss", points={"a": [(0, 1.0), (2, 0.5)], "b": [(1, 0.9), (2, None)]})
    data = chart_data(series, {"a": "run a"})
    assert data["x"] == [0, 1, 2] and not data["x_time"]
    assert data["series"] == [
        {"label": "run a", "values": [1.0, None, 0.5]},
        {"label": "b", "values": [None, 0.9, None]},
    ]
    timed = MetricSeries("cpu", by_time=True, points={"a": [(1_000, 1.0), (3_000, 2.0)]})
    assert chart_data(timed, {})["x"] == [1.0, 3.0] and chart_data(timed, {})["x_time"]


def test_a_histogram_becomes_bars_scaled_to_the_tallest() -> None:
    drawn = histogram_svg({"edges": [0.0, 1.0, 2.0], "counts": [5, 10]})
    assert drawn is not None
    assert [b["h"] for b in drawn["bars"]] == [24.0, 48.0]
    assert drawn["bars"][1]["title"] == "1 to 2: 10"
    assert histogram_svg(None) is None and histogram_svg({"edges": [], "counts": []}) is None


def test_lineage_nodes_link_to_their_own_pages() -> None:
    assert node_href("p", "run", "abc") == "/projects/p/runs/abc"
    assert node_href("p", "dataset_version", "q/customers@3") == (
        "/projects/q/datasets/customers?version=3"
    )
    assert node_href("p", "model_version", "q/churn/2") == "/projects/q/models/churn/2"
    assert node_href("p", "feature_set_version", "q/profile@4") == (
        "/projects/q/features/feature_set/profile?version=4"
    )
    assert node_href("p", "source", "s3://b/x y.csv") == (
        "/projects/p/lineage?kind=source&id=s3%3A%2F%2Fb%2Fx+y.csv"
    )


def test_a_pipeline_dag_joins_outputs_to_the_steps_that_read_them() -> None:
    def step(i: int, name: str, status: str, sha: str, start: int) -> StepRun:
        return StepRun(id=i, step=name, status=status, cache_key=f"k{i}",  # type: ignore[arg-type]
                       started_at=T0 + dt.timedelta(seconds=start), duration=1.0,
                       outputs={"output": {"sha256": sha, "kind": "pickle"}})  # fmt: skip

    run = PipelineRun(
        id="r", project="p", pipeline="m:f", status="FAILED", executor="local", started_at=T0,
        ended_at=T0 + dt.timedelta(seconds=4), created_by="u",
        steps=[step(1, "load", "CACHED", "s1", 0), step(2, "clean", "FINISHED", "s2", 1),
               step(3, "train", "FAILED", "s3", 2)],
    )  # fmt: skip
    node = LineageNode(kind="pipeline_run", key="r")
    graph = LineageGraph(
        root=node,
        nodes=[node],
        edges=[
            LineageEdge(src_kind="step_output", src_key="s1", dst_kind="step_run", dst_key="2",
                        relation="input_of"),
            LineageEdge(src_kind="step_output", src_key="s2", dst_kind="step_run", dst_key="3",
                        relation="input_of"),
            LineageEdge(src_kind="step_output", src_key="s1", dst_kind="step_run", dst_key="3",
                        relation="input_of"),
            LineageEdge(src_kind="step_output", src_key="s1", dst_kind="step_run", dst_key="99",
                        relation="input_of"),  # another run's step: not drawn
        ],
        depth=2,
    )  # fmt: skip
    dag, inputs = step_dag(run, graph, "p")
    assert [(n["id"], n["kind"]) for n in dag["nodes"]] == [
        ("load", "CACHED"),
        ("clean", "FINISHED"),
        ("train", "FAILED"),
    ]
    assert {(e["from"], e["to"]) for e in dag["edges"]} == {
        ("load", "clean"),
        ("clean", "train"),
        ("load", "train"),
    }
    assert sorted(inputs["train"]) == ["clean.output", "load.output"]
    assert step_dag(run, None, "p")[0]["edges"] == []  # no lineage: steps without edges
    bars = timeline(run)
    assert bars is not None and [b["begin"] for b in bars["bars"]] == [0.0, 1.0, 2.0]
    assert bars["bars"][2]["x"] == 160 + 2 / 4 * 520
