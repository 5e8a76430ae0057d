"""Pipelines on the local executor, recorded in-process on SQLite and PostgreSQL and over HTTP
on a relay server: caching, retries, failures, outputs, and what is recorded."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from relayml.domain.ports import Backend
from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.pipelines import (
    Pipeline,
    PipelineFailed,
    lineage_of,
    load_output,
    load_outputs,
    pipeline,
    step,
)

# `backend` (SQLite, PostgreSQL, HTTP) and `project` (a fresh one) come from tests/conftest.py.


# ------------------------------------------------------------------ the pipeline of the issue


@step
def load(rows: int) -> pd.DataFrame:
    print(f"loading {rows} rows")
    logging.getLogger("churn.load").warning("source has %d rows", rows)
    return pd.DataFrame({"age": np.arange(rows) % 90, "spend": np.linspace(0, 1, rows)})


@step(retries=1, backoff=0.01)
def clean(raw: pd.DataFrame, min_age: int = 18) -> pd.DataFrame:
    return raw[raw.age >= min_age].reset_index(drop=True)


@step
def summarise(table: pd.DataFrame) -> dict[str, Any]:
    return {"rows": len(table), "mean_spend": round(float(table.spend.mean()), 6)}


def churn_data_with(cleaner: Any) -> Pipeline:
    @pipeline(name="tests:churn_data")
    def churn_data(rows: int = 200, min_age: int = 21) -> Any:
        table = cleaner(load(rows), min_age=min_age)
        return {"table": table, "summary": summarise(table)}

    return churn_data


churn_data = churn_data_with(clean)


def statuses(run: Any) -> dict[str, str]:
    return {s.step: s.status for s in run.steps}


def hashes(run: Any) -> dict[str, str]:
    return {s.step: s.outputs["output"]["sha256"] for s in run.steps if "output" in s.outputs}


def test_a_run_records_each_step_and_its_outputs(backend: Backend, project: str) -> None:
    run = churn_data.run(rows=200, backend=backend, project=project)
    assert run.status == "FINISHED" and run.error is None
    assert run.pipeline == "tests:churn_data" and run.executor == "local"
    assert run.params == {"rows": 200, "min_age": 21} and run.created_by == "alice"
    assert statuses(run) == {"load": "FINISHED", "clean": "FINISHED", "summarise": "FINISHED"}
    first = run.steps[0]
    assert first.attempts == 1 and len(first.cache_key) == 64
    assert first.duration is not None and first.duration > 0
    assert first.cpu_time is not None and first.cpu_time >= 0
    assert first.peak_memory_mb is not None and first.peak_memory_mb > 10
    assert "loading 200 rows" in first.logs
    assert "WARNING churn.load: source has 200 rows" in first.logs
    out = first.outputs["output"]
    assert (
        out["kind"] == "pandas" and out["type"] == "pandas.DataFrame" and len(out["sha256"]) == 64
    )
    assert run.steps[2].outputs["output"]["kind"] == "json"
    assert run.steps[1].outputs["output"]["pipeline_outputs"] == ["table"]

    values = load_outputs(run, backend)
    assert set(values) == {"table", "summary"}
    assert values["summary"] == {
        "rows": len(values["table"]),
        "mean_spend": pytest.approx(0.52, 0.1),
    }
    assert (values["table"].age >= 21).all()
    raw = load_output(run, "load", backend=backend)
    assert raw.shape == (200, 2)

    stored = backend.get_pipeline_run(run.id)
    assert stored == run and backend.get_pipeline_run(run.id[:8]) == run
    assert [r.id for r in backend.list_pipeline_runs(project)] == [run.id]
    audit = backend.list_audit(entity_kind="step_run", entity_id=str(first.id))
    assert audit[0].action == "step_run.record" and audit[0].actor == "alice"
    assert audit[0].after is not None and audit[0].after["cached"] is True
    actions = [e.action for e in backend.list_audit(entity_kind="pipeline_run", entity_id=run.id)]
    assert actions == ["lineage.link", "pipeline_run.finish", "pipeline_run.create"]


def test_a_rerun_is_cached_and_a_change_misses_for_the_step_and_downstream(
    backend: Backend,
    project: str,
) -> None:
    first = churn_data.run(backend=backend, project=project)
    again = churn_data.run(backend=backend, project=project)
    assert set(statuses(again).values()) == {"CACHED"}
    assert hashes(again) == hashes(first)
    assert all(s.logs.startswith("cached: outputs reused from step run") for s in again.steps)
    assert again.steps[0].cpu_time is None and again.steps[0].attempts == 0
    assert load_outputs(again, backend)["summary"] == load_outputs(first, backend)["summary"]

    forced = churn_data.run(backend=backend, project=project, force=True)
    assert set(statuses(forced).values()) == {"FINISHED"}  # --force: no step comes from the cache
    assert hashes(forced) == hashes(first)
    assert set(statuses(churn_data.run(backend=backend, project=project)).values()) == {"CACHED"}

    param = churn_data.run(min_age=30, backend=backend, project=project)
    assert statuses(param) == {"load": "CACHED", "clean": "FINISHED", "summarise": "FINISHED"}

    @step(retries=1, backoff=0.01)
    def clean(raw: pd.DataFrame, min_age: int = 18) -> pd.DataFrame:  # new code, same name
        return raw[raw.age > min_age].reset_index(drop=True)

    code = churn_data_with(clean).run(backend=backend, project=project)
    assert statuses(code) == {"load": "CACHED", "clean": "FINISHED", "summarise": "FINISHED"}
    assert hashes(code)["clean"] != hashes(first)["clean"]

    @step(retries=3, backoff=0.5)
    def clean(raw: pd.DataFrame, min_age: int = 18) -> pd.DataFrame:
        # A comment, other decorator arguments: the same code for the cache.
        return raw[raw.age > min_age].reset_index(drop=True)

    layout = churn_data_with(clean).run(backend=backend, project=project)
    assert set(statuses(layout).values()) == {"CACHED"}


def test_outputs_of_every_kind_round_trip_with_stable_hashes(
    backend: Backend, project: str
) -> None:
    @step(cache=False)
    def make(n: int) -> pd.DataFrame:
        return pd.DataFrame({"a": range(n), "b": [f"s{i}" for i in range(n)]})

    @step(outputs=("series", "arrow", "array", "obj"))
    def derive(frame: pd.DataFrame) -> tuple[Any, ...]:
        return frame.a, pa.Table.from_pandas(frame), frame.a.to_numpy() * 2.5, Point(1, 2)

    @pipeline
    def kinds(n: int = 5) -> Any:
        series, arrow, array, obj = derive(make(n))
        return {"series": series, "arrow": arrow, "array": array, "obj": obj}

    first = kinds.run(backend=backend, project=project)
    second = kinds.run(backend=backend, project=project)
    assert statuses(second) == {"make": "FINISHED", "derive": "CACHED"}  # cache=False reruns
    assert hashes(first)["make"] == hashes(second)["make"]  # same data, same Parquet bytes
    derived = first.steps[1].outputs
    assert {k: v["kind"] for k, v in derived.items()} == {
        "series": "series",
        "arrow": "arrow",
        "array": "numpy",
        "obj": "pickle",
    }
    assert derived["obj"]["type"].endswith("test_pipelines.Point")
    values = load_outputs(second, backend)
    assert values["series"].tolist() == [0, 1, 2, 3, 4] and values["series"].name == "a"
    assert values["arrow"].column("b").to_pylist()[0] == "s0"
    assert values["array"].tolist() == [0.0, 2.5, 5.0, 7.5, 10.0]
    assert values["obj"] == Point(1, 2)


@dataclass(frozen=True)
class Point:
    x: int
    y: int


def test_a_flaky_step_is_retried_with_backoff_until_it_passes(
    backend: Backend, project: str, tmp_path: Path
) -> None:
    counter = tmp_path / "attempts"

    @step(retries=2, backoff=0.01)
    def flaky(path: str) -> int:
        done = int(Path(path).read_text()) if Path(path).exists() else 0
        Path(path).write_text(str(done + 1))
        print(f"attempt {done + 1}")
        if done < 2:
            raise ConnectionError(f"source unavailable (try {done + 1})")
        return done + 1

    @pipeline
    def retried() -> Any:
        return flaky(str(counter))

    run = retried.run(backend=backend, project=project)
    assert run.status == "FINISHED"
    only = run.steps[0]
    assert only.status == "FINISHED" and only.attempts == 3 and only.error is None
    assert "ConnectionError: source unavailable (try 1)" in only.logs
    assert "--- attempt 3 of 3 ---" in only.logs and "attempt 3" in only.logs
    assert load_outputs(run, backend) == {"output": 3}


def test_a_failing_step_fails_the_run_skips_downstream_and_caches_nothing(
    backend: Backend,
    project: str,
) -> None:
    @step(retries=1, backoff=0.01)
    def broken(table: pd.DataFrame) -> pd.DataFrame:
        raise ValueError(f"bad row {len(table)}")

    @step
    def after(table: pd.DataFrame) -> int:
        return len(table)

    @pipeline(name="tests:broken")
    def failing() -> Any:
        raw = load(50)
        return {"bad": after(broken(raw)), "good": summarise(raw)}

    with pytest.raises(PipelineFailed, match="step 'broken' failed after 2 attempts: ValueError"):
        failing.run(backend=backend, project=project)
    run = backend.list_pipeline_runs(project, pipeline="tests:broken")[0]
    assert run.status == "FAILED" and run.ended_at is not None
    assert run.error is not None and "bad row 50" in run.error
    assert statuses(run) == {
        "load": "FINISHED",
        "broken": "FAILED",
        "after": "SKIPPED",
        "summarise": "FINISHED",
    }
    failed = next(s for s in run.steps if s.step == "broken")
    assert failed.attempts == 2 and failed.outputs == {}
    assert failed.error is not None and failed.error.startswith("Traceback (most recent call last)")
    assert 'raise ValueError(f"bad row {len(table)}")' in failed.error
    assert backend.lookup_cache(failed.cache_key) is None
    skipped = next(s for s in run.steps if s.step == "after")
    assert skipped.logs == "skipped: upstream step broken failed" and skipped.cache_key == ""

    quiet = failing.run(backend=backend, project=project, raise_on_failure=False)
    assert quiet.status == "FAILED"
    assert statuses(quiet)["broken"] == "FAILED"  # a failure is never served from the cache
    with pytest.raises(InvalidInput, match="is FAILED; only a FINISHED run"):
        load_outputs(quiet, backend)


def test_an_output_that_cannot_be_stored_names_the_step_and_type(
    backend: Backend,
    project: str,
) -> None:
    @step(retries=2)
    def opens_lock(table: pd.DataFrame) -> Any:
        return {"lock": threading.Lock(), "rows": len(table)}

    @pipeline(name="tests:unstorable")
    def unstorable() -> Any:
        return opens_lock(load(10))

    with pytest.raises(
        InvalidInput, match=r"step 'opens_lock' returned a builtins.dict \(output 'output'\)"
    ) as caught:
        unstorable.run(backend=backend, project=project)
    assert "cannot be stored (TypeError: cannot pickle '_thread.lock' object)" in str(caught.value)
    run = backend.list_pipeline_runs(project, pipeline="tests:unstorable")[0]
    assert run.status == "FAILED" and statuses(run)["opens_lock"] == "FAILED"
    step_run = run.steps[1]
    assert step_run.attempts == 1  # not retried: the same value fails the same way
    assert step_run.error is not None and "builtins.dict" in step_run.error


def test_long_logs_keep_their_start_and_end(backend: Backend, project: str) -> None:
    @step
    def chatty(rows: int) -> int:
        for i in range(rows):
            print(f"line {i:06d} " + "x" * 90)
        return rows

    @pipeline
    def talk() -> Any:
        return chatty(3000)  # ~300 KB of output

    logs = talk.run(backend=backend, project=project).steps[0].logs
    assert 60_000 < len(logs) <= 66_000
    assert logs.startswith("line 000000 ") and "line 002999 " in logs[-200:]
    assert "characters dropped ...]" in logs


def test_bad_input_stores_nothing(backend: Backend, project: str) -> None:
    @pipeline(name="tests:disconnected")
    def disconnected() -> Any:
        raw = load(10)
        summarise(raw)
        return {"raw": raw}

    with pytest.raises(InvalidInput, match="disconnected steps: summarise"):
        disconnected.run(backend=backend, project=project)
    with pytest.raises(InvalidInput, match="no parameter 'rowz'"):
        churn_data.run(rowz=3, backend=backend, project=project)
    with pytest.raises(InvalidInput, match="executor 'spark' is not known"):
        churn_data.run(backend=backend, project=project, executor="spark")
    with pytest.raises(NotFound, match="project 'nope' does not exist"):
        churn_data.run(backend=backend, project="nope")
    assert backend.list_pipeline_runs(project) == []
    entries = backend.list_audit(entity_kind="pipeline_run", limit=1000)
    assert [e for e in entries if (e.after or {}).get("project") == project] == []


def test_the_store_refuses_changes_to_ended_runs_and_unknown_ids(
    backend: Backend,
    project: str,
) -> None:
    run = backend.create_pipeline_run(project, "m:p", executor="local", params={"a": 1})
    assert run.status == "RUNNING" and run.steps == []
    record = {"step": "s", "status": "DONE", "started_at": 1, "outputs": {}}
    with pytest.raises(InvalidInput, match="step status 'DONE' is not one of"):
        backend.record_step_run(run.id, record)
    with pytest.raises(InvalidInput, match="only a FINISHED step is cached"):
        backend.record_step_run(run.id, {**record, "status": "FAILED"}, cache=True)
    with pytest.raises(InvalidInput, match="ends FINISHED or FAILED"):
        backend.finish_pipeline_run(run.id, "CACHED")
    long_logs = "x" * 100_000
    step_id = backend.record_step_run(run.id, {**record, "status": "FAILED", "logs": long_logs})
    finished = backend.finish_pipeline_run(run.id, "FAILED", error="boom")
    assert finished.status == "FAILED" and finished.error == "boom"
    assert finished.steps[0].id == step_id and len(finished.steps[0].logs) < 70_000
    with pytest.raises(Conflict, match="has already ended"):
        backend.finish_pipeline_run(run.id, "FINISHED")
    with pytest.raises(Conflict, match="has already ended"):
        backend.record_step_run(run.id, {**record, "status": "FINISHED"})
    with pytest.raises(NotFound, match="pipeline run 'abcdef0123' does not exist"):
        backend.get_pipeline_run("abcdef0123")
    with pytest.raises(NotFound, match="relay pipelines list"):
        backend.record_step_run("0" * 32, {**record, "status": "FINISHED"})


def test_lineage_facts_link_outputs_steps_and_the_run(backend: Backend, project: str) -> None:
    outcome = churn_data.execute({"rows": 20}, backend=backend, project=project)
    nodes, edges = lineage_of(outcome)
    ids = {name: str(i) for name, i in outcome.step_run_ids.items()}
    table = outcome.results["clean"].outputs["output"]["sha256"]
    raw = outcome.results["load"].outputs["output"]["sha256"]
    relations = {(e.src_kind, e.src_key, e.relation, e.dst_kind, e.dst_key) for e in edges}
    assert ("step_output", raw, "input_of", "step_run", ids["clean"]) in relations
    assert ("step_run", ids["clean"], "produced", "step_output", table) in relations
    assert ("step_run", ids["load"], "part_of", "pipeline_run", outcome.run.id) in relations
    assert {n.kind for n in nodes} == {"pipeline_run", "step_run", "step_output"}


@step
def read_csv(path: str) -> pd.DataFrame:
    return pd.read_csv(path)


@step
def count(table: pd.DataFrame) -> int:
    return len(table)


@pipeline(name="tests:file-input")
def from_file(path: str) -> Any:
    table = read_csv(path)
    return {"table": table, "rows": count(table)}


def test_a_step_reading_a_file_reruns_when_the_file_changes(
    backend: Backend, project: str, tmp_path: Path
) -> None:
    source = tmp_path / "customers.csv"
    source.write_text("age\n30\n40\n")
    first = from_file.run(path=str(source), backend=backend, project=project)
    assert statuses(first) == {"read_csv": "FINISHED", "count": "FINISHED"}
    assert statuses(from_file.run(path=str(source), backend=backend, project=project)) == {
        "read_csv": "CACHED",
        "count": "CACHED",
    }

    source.write_text("age\n31\n40\n")  # the same size, a new content
    edited = from_file.run(path=str(source), backend=backend, project=project)
    assert statuses(edited) == {"read_csv": "FINISHED", "count": "FINISHED"}
    assert load_outputs(edited, backend)["table"].age.tolist() == [31, 40]

    source.write_text("age\n31\n40\n")  # written again, the same bytes: still cached
    assert statuses(from_file.run(path=str(source), backend=backend, project=project)) == {
        "read_csv": "CACHED",
        "count": "CACHED",
    }

    url = source.as_uri()  # a file:// URL is keyed by content too
    by_url = from_file.run(path=url, backend=backend, project=project)
    assert statuses(by_url)["read_csv"] == "FINISHED"
    source.write_text("age\n31\n40\n50\n")
    grown = from_file.run(path=url, backend=backend, project=project)
    assert statuses(grown) == {"read_csv": "FINISHED", "count": "FINISHED"}
    assert load_outputs(grown, backend)["rows"] == 3

    missing = str(tmp_path / "nope.csv")  # not a file: keyed by the text, the step fails
    failed = from_file.run(path=missing, backend=backend, project=project, raise_on_failure=False)
    assert failed.status == "FAILED" and "FileNotFoundError" in (failed.error or "")


def test_file_keys_by_content_for_paths_and_fingerprint_for_other_stores(tmp_path: Path) -> None:
    import fsspec

    from relayml.pipelines.keys import file_key

    local = tmp_path / "a.csv"
    local.write_text("x\n1\n")
    by_path = file_key(local)
    assert by_path is not None and by_path == file_key(str(local))
    assert by_path["sha256"] == file_key(local.as_uri())["sha256"]  # type: ignore[index]
    assert file_key(str(tmp_path)) is None  # a folder is keyed by its name
    assert file_key(str(tmp_path / "none.csv")) is None
    assert file_key("https://example.invalid/a.csv") is None  # web URLs: by their text
    assert file_key("min_age") is None and file_key(3) is None

    url = f"memory://relay-keys-{tmp_path.name}/a.csv"
    with fsspec.open(url, "wb") as fh:
        fh.write(b"x\n1\n")
    before = file_key(url)
    assert before is not None and "ukey" in before
    with fsspec.open(url, "wb") as fh:
        fh.write(b"x\n1\n2\n")
    after = file_key(url)
    assert after is not None and after["ukey"] != before["ukey"]
