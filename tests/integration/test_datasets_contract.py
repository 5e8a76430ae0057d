"""Datasets and data checks on SQLite, PostgreSQL and over HTTP, plus the sources they read."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.data.checks import run_checks
from relayml.data.sources import load_dataset, log_dataset
from relayml.errors import InvalidInput, NotFound

FRAME = pd.DataFrame(
    {
        "id": [1, 2, 3, 4, 5, 6],
        "age": [34, 51, None, 29, 200, 41],
        "plan": ["basic", "pro", "basic", "gold", None, "pro"],
        "signup": pd.to_datetime(
            ["2024-01-05", "2024-02-11", "2024-02-12", "2024-03-01", "2024-03-02", "2024-03-09"]
        ),
    }
)


def audit_actions(backend: Any, entity_kind: str, entity_id: str) -> list[str]:
    entries = backend.list_audit(entity_kind=entity_kind, entity_id=entity_id)
    return [e.action for e in reversed(entries)]


# -- versions --------------------------------------------------------------------------------


def test_the_same_data_twice_is_the_same_version(backend: Any, project: str) -> None:
    first = log_dataset(backend, project, "customers", FRAME, description="who signed up")
    assert (first.ref, first.rows, first.columns) == ("customers@1", 6, 4)
    assert first.created_by == "alice" and first.source == {"kind": "pandas"}
    assert [c["name"] for c in first.table_schema] == ["id", "age", "plan", "signup"]
    assert first.table_schema[1] == {"name": "age", "type": "double", "nullable": True}
    again = log_dataset(backend, project, "customers", FRAME.copy())
    as_arrow = log_dataset(backend, project, "customers", pa.Table.from_pandas(FRAME))
    assert again == first and as_arrow.id == first.id
    assert [v.version for v in backend.list_dataset_versions(project, "customers")] == [1]
    entity = f"{project}/customers@1"
    assert audit_actions(backend, "dataset_version", entity) == ["dataset.create_version"]
    assert audit_actions(backend, "dataset", f"{project}/customers") == ["dataset.create"]


def test_different_data_is_a_new_version(backend: Any, project: str) -> None:
    log_dataset(backend, project, "customers", FRAME)
    changed = FRAME.assign(age=FRAME["age"].fillna(0))
    second = log_dataset(backend, project, "customers", changed)
    assert (
        second.version == 2
        and second.content_hash != backend.get_dataset_version(project, "customers@1").content_hash
    )
    assert backend.get_dataset_version(project, "customers").version == 2
    assert backend.get_dataset_version(project, "customers@latest").version == 2
    assert (
        backend.get_dataset_version(project, "customers@1").profile["columns"]["age"]["nulls"] == 1
    )
    assert (
        backend.get_dataset_version(project, "customers@2").profile["columns"]["age"]["nulls"] == 0
    )
    assert [v.ref for v in backend.list_dataset_versions(project, "customers")] == [
        "customers@2",
        "customers@1",
    ]
    log_dataset(backend, project, "accounts", FRAME[["id"]])
    listed = backend.list_datasets(project)
    assert [(d.name, d.latest_version) for d in listed] == [("accounts", 1), ("customers", 2)]


def test_the_profile_is_stored_with_the_version(backend: Any, project: str) -> None:
    version = log_dataset(backend, project, "customers", FRAME)
    stored = backend.get_dataset_version(project, version.ref).profile
    assert stored["rows"] == 6
    age = stored["columns"]["age"]
    assert (age["count"], age["nulls"], age["min"], age["max"]) == (5, 1, 29.0, 200.0)
    assert age["mean"] == pytest.approx(71.0)
    assert sum(age["histogram"]["counts"]) == 5
    plan = stored["columns"]["plan"]
    assert plan["top"][:2] == [{"value": "basic", "count": 2}, {"value": "pro", "count": 2}]
    assert stored["columns"]["signup"]["max"] == "2024-03-09T00:00:00"


def test_references_that_name_nothing(backend: Any, project: str) -> None:
    log_dataset(backend, project, "customers", FRAME)
    with pytest.raises(NotFound, match="has no version 4 \\(its versions go from 1 to 1\\)"):
        backend.get_dataset_version(project, "customers@4")
    with pytest.raises(NotFound, match=r"dataset 'nope' does not exist .*datasets: customers"):
        backend.get_dataset_version(project, "nope")
    with pytest.raises(InvalidInput, match="not a dataset reference"):
        backend.get_dataset_version(project, "customers@@2")
    with pytest.raises(NotFound, match="dataset 'nope' does not exist"):
        backend.list_dataset_versions(project, "nope")


def test_a_version_needs_its_parquet_uploaded(backend: Any, project: str) -> None:
    facts: dict[str, Any] = {
        "content_hash": "c" * 64,
        "sha256": "a" * 64,
        "rows": 1,
        "columns": 1,
        "schema": [{"name": "x", "type": "int64", "nullable": True}],
        "profile": {},
        "source": {"kind": "arrow"},
    }
    with pytest.raises(InvalidInput, match="not in the artifact store"):
        backend.create_dataset_version(project, "ghost", **facts)
    with pytest.raises(InvalidInput, match="content_hash must be a sha256"):
        backend.create_dataset_version(project, "ghost", **{**facts, "content_hash": "xyz"})
    with pytest.raises(InvalidInput, match="dataset name 'bad name' is not allowed"):
        backend.create_dataset_version(project, "bad name", **facts)
    assert backend.list_datasets(project) == []


def test_concurrent_writers_agree_on_versions(backend: Any, project: str) -> None:
    frames = [FRAME.assign(id=FRAME["id"] + 100 * k) for k in range(4)]
    results: list[Any] = [None] * 8

    def log(slot: int) -> None:
        results[slot] = log_dataset(backend, project, "customers", frames[slot % 4])

    threads = [threading.Thread(target=log, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r is not None for r in results)
    by_frame = {k: {results[k].version, results[k + 4].version} for k in range(4)}
    assert all(len(v) == 1 for v in by_frame.values())  # the same data: one version
    assert sorted(v.version for v in backend.list_dataset_versions(project, "customers")) == [
        1, 2, 3, 4,
    ]  # fmt: skip


# -- sources round trip ----------------------------------------------------------------------


def _same(loaded: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        loaded.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )


def test_pandas_and_arrow_round_trip(backend: Any, project: str) -> None:
    version = log_dataset(backend, project, "customers", FRAME)
    loaded = load_dataset(backend, project, "customers@1")
    pd.testing.assert_frame_equal(loaded, FRAME)
    table = load_dataset(backend, project, version.ref, as_="arrow")
    assert isinstance(table, pa.Table) and table.column_names == list(FRAME.columns)
    arrow = pa.table({"k": pa.array([1, None, 3], pa.int32()), "v": ["x", "y", None]})
    stored = log_dataset(backend, project, "arrowed", arrow)
    assert stored.source == {"kind": "arrow"}
    assert load_dataset(backend, project, "arrowed", as_="arrow").equals(arrow)
    with pytest.raises(InvalidInput, match="as 'pandas' or 'arrow'"):
        load_dataset(backend, project, "arrowed", as_="polars")  # type: ignore[arg-type]


def test_parquet_and_csv_round_trip_keeping_the_source(
    backend: Any, project: str, tmp_path: Path
) -> None:
    parquet = tmp_path / "customers.parquet"
    FRAME.to_parquet(parquet)
    from_parquet = log_dataset(backend, project, "from_parquet", parquet)
    assert from_parquet.source["kind"] == "parquet"
    assert from_parquet.source["uri"] == str(parquet.resolve())
    _same(load_dataset(backend, project, "from_parquet"), FRAME)
    csv = tmp_path / "customers.csv"
    FRAME.to_csv(csv, index=False)
    from_csv = log_dataset(backend, project, "from_csv", str(csv), source={"owner": "crm"})
    assert from_csv.source == {
        "kind": "csv",
        "uri": str(csv.resolve()),
        "bytes": csv.stat().st_size,
        "owner": "crm",
    }
    types = {c["name"]: c["type"] for c in from_csv.table_schema}
    assert types == {"id": "int64", "age": "double", "plan": "string", "signup": "date32[day]"}
    loaded = load_dataset(backend, project, "from_csv")
    _same(loaded.drop(columns="signup"), FRAME.drop(columns="signup"))
    assert [str(d) for d in loaded["signup"]] == [str(d.date()) for d in FRAME["signup"]]


def test_sql_round_trip_keeps_the_query(backend: Any, project: str, tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table customers (id integer, age real, plan text)")
        conn.executemany(
            "insert into customers values (?, ?, ?)", [(1, 34.0, "basic"), (2, None, "pro")]
        )
    query = "select id, age, plan from customers order by id"
    url = f"sqlite:///{path}"
    version = log_dataset(backend, project, "from_sql", {"sql": query, "url": url})
    assert version.source == {"kind": "sql", "query": query, "url": url}
    loaded = load_dataset(backend, project, "from_sql")
    _same(loaded, pd.DataFrame({"id": [1, 2], "age": [34.0, None], "plan": ["basic", "pro"]}))
    with pytest.raises(InvalidInput, match=r"the SQL query failed on .*no such table: nope"):
        log_dataset(backend, project, "from_sql", {"sql": "select * from nope", "url": url})
    assert len(backend.list_dataset_versions(project, "from_sql")) == 1


def test_a_csv_whose_types_do_not_parse_names_the_column_and_line(
    backend: Any, project: str, tmp_path: Path
) -> None:
    lines = ["id,age,plan"] + [f"{i},{20 + i % 50},basic" for i in range(300)]
    lines[201] = "200,forty,basic"
    csv = tmp_path / "stray.csv"
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInput) as caught:
        log_dataset(backend, project, "customers", csv)
    assert caught.value.message == (
        "stray.csv: column 'age' holds numbers except on 1 line; the first is line 202 "
        "(row 201): 'forty'. Fix the value, or keep the column as text with "
        "column_types={'age': 'string'}."
    )
    small = tmp_path / "small.csv"
    small.write_text("id,age\n1,30\n2,abc\n")
    with pytest.raises(InvalidInput) as declared:
        log_dataset(backend, project, "customers", small, column_types={"age": "int64"})
    assert declared.value.message == (
        "small.csv: column 'age' does not convert to int64: row 2 (line 3 of the file) holds "
        "'abc'. Fix the value, or read the column as text with column_types={'age': 'string'}."
    )
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(InvalidInput, match="line 3 has 3 fields where the header has 2"):
        log_dataset(backend, project, "customers", ragged)
    assert backend.list_datasets(project) == []
    as_text = log_dataset(backend, project, "customers", csv, column_types={"age": "string"})
    assert as_text.table_schema[1]["type"] == "string"
    assert as_text.source["column_types"] == {"age": "string"}


def test_other_inputs_are_refused_clearly(backend: Any, project: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot log a list as a dataset"):
        log_dataset(backend, project, "x", [1, 2])
    with pytest.raises(InvalidInput, match="does not exist"):
        log_dataset(backend, project, "x", tmp_path / "missing.parquet")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InvalidInput, match=r"only \.parquet"):
        log_dataset(backend, project, "x", tmp_path / "notes.txt")
    with pytest.raises(InvalidInput, match="has no columns"):
        log_dataset(backend, project, "x", pd.DataFrame())
    with pytest.raises(InvalidInput, match="unknown keys query"):
        log_dataset(backend, project, "x", {"sql": "select 1", "url": "sqlite://", "query": 1})
    assert backend.list_datasets(project) == []


def test_a_corrupt_cached_copy_is_fetched_again(backend: Any, project: str) -> None:
    version = log_dataset(backend, project, "customers", FRAME)
    load_dataset(backend, project, version.ref)
    cached = Path(backend.settings.home) / "cache" / "datasets" / f"{version.sha256}.parquet"
    assert cached.is_file()
    cached.write_bytes(b"not parquet")
    pd.testing.assert_frame_equal(load_dataset(backend, project, version.ref), FRAME)


# -- data checks -----------------------------------------------------------------------------

SPEC = {
    "checks": [
        {"column": "id", "unique": True},
        {"column": "age", "not_null": True},
        {"column": "age", "min": 0, "max": 120},
        {"column": "plan", "allowed": ["basic", "pro"]},
        {"column": "churned", "not_null": True},
        {"rows": {"min": 5}},
        {"freshness": {"column": "signup", "max_age_hours": 24}},
    ]
}


def test_checks_are_evaluated_and_stored(backend: Any, project: str) -> None:
    log_dataset(backend, project, "customers", FRAME)
    now = datetime(2024, 3, 9, 12, tzinfo=UTC)
    report = run_checks(backend, project, "customers", SPEC, now=now)
    assert (report.dataset, report.version, report.passed) == ("customers", 1, False)
    assert report.created_by == "alice"
    result = {o.name: o for o in report.outcomes}
    assert list(result) == [
        "id: unique",
        "age: not null",
        "age: between 0 and 120",
        "plan: one of ['basic', 'pro']",
        "churned: not null",
        "rows: at least 5",
        "signup: newest within 24 hours",
    ]
    assert result["id: unique"].passed and result["rows: at least 5"].passed
    assert result["signup: newest within 24 hours"].passed
    assert result["age: not null"].examples[0]["_row"] == 2
    out_of_range = result["age: between 0 and 120"]
    assert out_of_range.failing_rows == 1 and out_of_range.examples[0]["age"] == 200.0
    assert out_of_range.examples[0]["signup"] == "2024-03-02T00:00:00"
    assert [e["plan"] for e in result["plan: one of ['basic', 'pro']"].examples] == ["gold"]
    missing = result["churned: not null"]
    assert not missing.passed and "columns: id, age, plan, signup" in missing.detail
    stored = backend.list_data_checks(project, "customers@1")
    assert [r.id for r in stored] == [report.id] and stored[0] == report
    entity = f"{project}/customers@1"
    assert audit_actions(backend, "dataset_version", entity)[-1] == "dataset.check"


def test_a_passing_run_is_stored_after_a_failing_one(backend: Any, project: str) -> None:
    log_dataset(backend, project, "customers", FRAME)
    spec = {"checks": [{"column": "id", "unique": True}, {"column": "plan", "type": "string"}]}
    failing = run_checks(backend, project, "customers@1", SPEC)
    passing = run_checks(backend, project, "customers@1", spec)
    assert passing.passed and not failing.passed
    assert [r.passed for r in backend.list_data_checks(project, "customers")] == [True, False]


def test_a_bad_spec_stores_nothing(backend: Any, project: str) -> None:
    log_dataset(backend, project, "customers", FRAME)
    bad = {"checks": [{"column": "age", "not_null": True}, {"column": "age", "between": [0, 1]}]}
    with pytest.raises(InvalidInput, match=r"check 2 .*between: Extra inputs are not permitted"):
        run_checks(backend, project, "customers", bad)
    with pytest.raises(InvalidInput, match="spec must be a check spec"):
        backend.record_data_check(project, "customers", {"rules": []}, [])
    assert backend.list_data_checks(project, "customers") == []


def test_distribution_against_a_reference_version(backend: Any, project: str) -> None:
    rng = np.random.default_rng(11)
    base = pd.DataFrame({"age": rng.normal(40, 10, 2000), "plan": rng.choice(["a", "b"], 2000)})
    log_dataset(backend, project, "customers", base)
    log_dataset(backend, project, "customers", base.assign(age=base["age"] + 0.5))
    log_dataset(backend, project, "customers", base.assign(age=base["age"] + 15, plan="a"))
    spec = {
        "checks": [
            {"distribution": {"column": "age", "reference": "customers@1", "max_psi": 0.2}},
            {"distribution": {"column": "plan", "reference": "customers@1"}},
        ]
    }
    assert run_checks(backend, project, "customers@2", spec).passed
    drifted = run_checks(backend, project, "customers@3", spec)
    assert [o.passed for o in drifted.outcomes] == [False, False]
    assert "against customers@1 (over 0.2)" in drifted.outcomes[0].detail
    missing = {"checks": [{"distribution": {"column": "age", "reference": "customers@9"}}]}
    (outcome,) = run_checks(backend, project, "customers@3", missing).outcomes
    assert (
        not outcome.passed and "customers@9: dataset 'customers' has no version 9" in outcome.detail
    )


# -- local only: a SQL source with a password, on PostgreSQL ---------------------------------


def test_a_sql_url_keeps_no_password(tmp_path: Path, pg_database_url: str) -> None:
    with psycopg.connect(pg_database_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("create table plans (code text, price numeric(6, 2))")
        conn.execute("insert into plans values ('basic', 9.50), ('pro', 19.00)")
    with_password = pg_database_url.replace("postgres@", "postgres:hunter2@")
    backend = LocalBackend(get_settings(home=tmp_path / "home", user="alice"))
    try:
        backend.create_project("p")
        source = {"sql": "select code, price::float8 as price from plans", "url": with_password}
        version = log_dataset(backend, "p", "plans", source)
        assert "hunter2" not in str(version.source) and "***" in version.source["url"]
        loaded = load_dataset(backend, "p", "plans")
        assert loaded.to_dict("list") == {"code": ["basic", "pro"], "price": [9.5, 19.0]}
    finally:
        backend.close()


def test_smoke_local_backend(tmp_path: Path) -> None:
    """The data operations on a plain LocalBackend: log, load, check."""
    backend = LocalBackend(get_settings(home=tmp_path / "home", user="alice"))
    try:
        backend.create_project("p")
        version = log_dataset(backend, "p", "customers", FRAME)
        table = load_dataset(backend, "p", version.ref, as_="arrow")
        assert table.num_rows == 6
        pq.read_table(
            backend.blobs.path_of(version.sha256)
        )  # the blob is plain Parquet in the store
        report = run_checks(
            backend, "p", version.ref, {"checks": [{"column": "id", "unique": True}]}
        )
        assert report.passed
    finally:
        backend.close()
