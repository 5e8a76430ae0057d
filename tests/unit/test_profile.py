"""Profiles, the canonical form and content hash, and data check evaluation: pure functions."""

from __future__ import annotations

import io
import math
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from relayml.data.canonical import canonical_table, content_hash, schema_of
from relayml.data.checks import evaluate_checks, parse_spec, psi, read_spec
from relayml.data.profile import histogram_of, profile_column, profile_table
from relayml.errors import InvalidInput

# -- profile ---------------------------------------------------------------------------------

FRAME = pd.DataFrame(
    {
        "age": [10, 20, 30, 40, 50],
        "score": [1.5, None, 2.5, float("nan"), 4.0],
        "plan": ["a", "b", "a", None, "a"],
        "active": [True, False, True, True, None],
        "seen": pd.to_datetime(["2024-01-03", "2024-01-01", None, "2024-02-01", "2024-01-01"]),
    }
)


@pytest.fixture
def profile() -> dict[str, Any]:
    table, _ = _canonical(FRAME)
    return profile_table(table)


def _canonical(frame: pd.DataFrame) -> tuple[pa.Table, str]:
    table = canonical_table(pa.Table.from_pandas(frame, preserve_index=False))
    return table, content_hash(table)


def test_profile_of_integers_is_hand_checked(profile: dict[str, Any]) -> None:
    age = profile["columns"]["age"]
    assert profile["rows"] == 5
    assert list(profile["columns"]) == ["age", "score", "plan", "active", "seen"]
    assert (age["type"], age["kind"], age["count"], age["nulls"]) == ("int64", "numeric", 5, 0)
    assert (age["min"], age["max"], age["distinct"]) == (10, 50, 5)
    assert age["mean"] == 30.0
    assert age["std"] == pytest.approx(math.sqrt(250))  # sample std, as pandas gives
    assert age["quantiles"]["p50"] == 30.0
    assert age["quantiles"]["p25"] == 20.0
    assert age["quantiles"]["p01"] == pytest.approx(10.4)  # linear, as numpy and pandas
    assert age["quantiles"]["p99"] == pytest.approx(49.6)
    assert age["histogram"]["edges"][0] == 10.0 and age["histogram"]["edges"][-1] == 50.0
    assert len(age["histogram"]["edges"]) == 21
    assert sum(age["histogram"]["counts"]) == 5
    assert age["histogram"]["counts"][0] == 1 and age["histogram"]["counts"][-1] == 1  # 50 in


def test_profile_of_floats_separates_nulls(profile: dict[str, Any]) -> None:
    score = profile["columns"]["score"]
    # from pandas, NaN arrives as null: two nulls, three values
    assert (score["count"], score["nulls"], score["nan"], score["infinite"]) == (3, 2, 0, 0)
    assert (score["min"], score["max"]) == (1.5, 4.0)
    assert score["mean"] == pytest.approx(8 / 3)
    assert score["std"] == pytest.approx(float(np.std([1.5, 2.5, 4.0], ddof=1)))


def test_profile_of_text_booleans_and_times(profile: dict[str, Any]) -> None:
    plan = profile["columns"]["plan"]
    assert (plan["kind"], plan["count"], plan["nulls"], plan["distinct"]) == ("string", 4, 1, 2)
    assert plan["top"] == [{"value": "a", "count": 3}, {"value": "b", "count": 1}]
    assert (plan["min_length"], plan["max_length"], plan["mean_length"]) == (1, 1, 1.0)
    active = profile["columns"]["active"]
    assert (active["kind"], active["true"], active["false"], active["nulls"]) == (
        "boolean", 3, 1, 1,
    )  # fmt: skip
    seen = profile["columns"]["seen"]
    assert seen["kind"] == "temporal"
    assert (seen["min"], seen["max"]) == ("2024-01-01T00:00:00", "2024-02-01T00:00:00")
    assert (seen["distinct"], seen["nulls"]) == (3, 1)


def test_profile_of_arrow_nan_infinity_and_degenerate_columns() -> None:
    values = pa.array([1.0, float("nan"), float("inf"), 3.0, None])
    stats = profile_column(values)
    assert (stats["count"], stats["nulls"], stats["nan"], stats["infinite"]) == (4, 1, 1, 1)
    assert (stats["min"], stats["max"], stats["mean"]) == (1.0, 3.0, 2.0)
    assert stats["distinct"] == 3  # 1, 3 and +inf; NaN is not a value
    empty = profile_column(pa.array([None, None], type=pa.float64()))
    assert empty["count"] == 0 and empty["min"] is None and empty["histogram"] is None
    single = profile_column(pa.array([7, 7, 7]))
    assert single["histogram"] == {"edges": [7.0, 7.0], "counts": [3]}
    assert single["std"] == 0.0
    one = profile_column(pa.array([5]))
    assert one["std"] is None  # undefined for one value: null, never NaN
    nothing = profile_column(pa.array([None, None]))
    assert (nothing["kind"], nothing["nulls"], nothing["distinct"]) == ("null", 2, 0)


def test_top_values_are_the_ten_most_frequent_ties_in_order_of_appearance() -> None:
    values = ["z"] * 5 + ["y"] * 5 + [f"v{i}" for i in range(20)] + ["w"] * 2
    stats = profile_column(pa.array(values))
    top = stats["top"]
    assert len(top) == 10 and stats["distinct"] == 23
    assert top[:3] == [
        {"value": "z", "count": 5},
        {"value": "y", "count": 5},
        {"value": "w", "count": 2},
    ]
    assert [t["value"] for t in top[3:]] == [f"v{i}" for i in range(7)]


def test_categories_are_profiled_from_their_codes() -> None:
    frame = pd.DataFrame({"c": pd.Categorical(["u", "v", "u"], categories=["v", "u", "unused"])})
    table, _ = _canonical(frame)
    stats = profile_table(table)["columns"]["c"]
    assert stats["type"] == "dictionary<values=string, indices=int32, ordered=0>"
    assert stats["kind"] == "string" and stats["distinct"] == 2
    assert stats["top"] == [{"value": "u", "count": 2}, {"value": "v", "count": 1}]


def test_histogram_bins_are_closed_on_the_left_and_the_last_on_both_sides() -> None:
    hist = histogram_of(np.array([0.0, 1.0, 1.0, 2.0]))
    assert hist["edges"][10] == 1.0
    assert hist["counts"][9] == 0 and hist["counts"][10] == 2 and hist["counts"][-1] == 1


def test_profile_matches_pandas_on_random_data() -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"x": rng.normal(size=10_000), "k": rng.integers(0, 50, 10_000)})
    stats = profile_table(canonical_table(pa.Table.from_pandas(frame)))["columns"]
    described = frame.describe()
    for column in ("x", "k"):
        assert stats[column]["mean"] == pytest.approx(described[column]["mean"])
        assert stats[column]["std"] == pytest.approx(described[column]["std"])
        assert stats[column]["quantiles"]["p25"] == pytest.approx(described[column]["25%"])
        assert stats[column]["quantiles"]["p75"] == pytest.approx(described[column]["75%"])
        assert stats[column]["distinct"] == frame[column].nunique()
    assert sum(stats["x"]["histogram"]["counts"]) == 10_000


# -- canonical form and content hash ---------------------------------------------------------


def test_the_hash_ignores_chunking_and_values_under_nulls() -> None:
    table, digest = _canonical(FRAME)
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=2))
    assert rechunked.column(0).num_chunks > 1
    assert content_hash(canonical_table(rechunked)) == digest
    # the same nulls with other bytes underneath (CSV gives 0, pandas NaN)
    a = pa.array([1.0, None])
    b = pa.Array.from_buffers(
        pa.float64(), 2, [a.buffers()[0], pa.py_buffer(np.array([1.0, 99.0]).tobytes())]
    )
    assert b.to_pylist() == [1.0, None]
    assert content_hash(pa.table({"a": a})) == content_hash(pa.table({"a": b}))


def test_the_hash_sees_every_change_of_content_or_schema() -> None:
    _, digest = _canonical(FRAME)
    changed = FRAME.copy()
    changed.loc[2, "age"] = 31
    assert _canonical(changed)[1] != digest
    assert _canonical(FRAME[list(reversed(FRAME.columns))])[1] != digest
    assert _canonical(FRAME.rename(columns={"age": "years"}))[1] != digest
    assert _canonical(FRAME.astype({"age": "float64"}))[1] != digest
    assert _canonical(FRAME.iloc[:4])[1] != digest
    nulls = pa.table({"s": pa.array(["", None])})
    empties = pa.table({"s": pa.array(["", ""])})
    assert content_hash(nulls) != content_hash(empties)


def test_pandas_csv_and_parquet_of_the_same_data_hash_alike() -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "plan": ["a", None, "c"], "x": [0.5, None, 2.0]})
    from_pandas, digest = _canonical(frame)
    text = frame.to_csv(index=False).encode()
    csv = pcsv.read_csv(
        io.BytesIO(text), convert_options=pcsv.ConvertOptions(strings_can_be_null=True)
    )
    assert content_hash(canonical_table(csv)) == digest
    buffer = io.BytesIO()
    pq.write_table(from_pandas, buffer)
    buffer.seek(0)
    assert content_hash(canonical_table(pq.read_table(buffer))) == digest


def test_categories_keep_their_hash_through_parquet_row_groups() -> None:
    categories = pd.Categorical(["b", "a", "c"] * 1000, categories=["c", "b", "a", "unused"])
    table, digest = _canonical(pd.DataFrame({"c": categories, "n": range(3000)}))
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=700)
    buffer.seek(0)
    back = pq.read_table(buffer)
    assert back.column("c").num_chunks > 1
    assert content_hash(canonical_table(back)) == digest


def test_canonical_form_keeps_order_and_makes_types_regular() -> None:
    table = pa.table(
        {
            "z": pa.array(["x"], type=pa.large_string()),
            "a": pa.array([b"\x00"], type=pa.large_binary()),
            "c": pa.array(["u"]).dictionary_encode().cast(pa.dictionary(pa.int8(), pa.string())),
        }
    )
    schema = schema_of(canonical_table(table))
    assert [c["name"] for c in schema] == ["z", "a", "c"]
    assert [c["type"] for c in schema] == [
        "string",
        "binary",
        "dictionary<values=string, indices=int32, ordered=0>",
    ]
    duplicated = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(InvalidInput, match="column 'a' appears twice"):
        canonical_table(duplicated)


# -- data checks -----------------------------------------------------------------------------

DATA = pa.table(
    {
        "id": [1, 2, 3, 3, 5, 6, 7, 8],
        "age": [30, -1, 150, 40, None, 200, 20, 130],
        "plan": ["a", "b", "x", "a", "a", None, "y", "a"],
        "email": ["a@x", "b@x", "nope", "d@x", "e@x", "f@x", "g@x", "h@x"],
        "ts": pa.array(
            [datetime(2024, 5, d, 12) for d in range(1, 9)], type=pa.timestamp("us", tz="UTC")
        ),
    }
)
NOW = datetime(2024, 5, 9, 0, tzinfo=UTC)


def outcomes_of(spec: Any, **kwargs: Any) -> dict[str, Any]:
    return {o.name: o for o in evaluate_checks(DATA, spec, now=NOW, **kwargs)}


def test_column_checks_count_failing_rows_and_show_them() -> None:
    result = outcomes_of(
        {
            "checks": [
                {"column": "age", "type": "int64"},
                {"column": "age", "type": "float"},
                {"column": "age", "not_null": True},
                {"column": "age", "min": 0, "max": 120},
                {"column": "plan", "allowed": ["a", "b"]},
                {"column": "id", "unique": True},
                {"column": "email", "pattern": "@"},
            ]
        }
    )
    assert result["age: type int64"].passed
    assert not result["age: type float"].passed
    assert result["age: type float"].detail == "age is int64, not float."
    not_null = result["age: not null"]
    assert (not_null.passed, not_null.failing_rows) == (False, 1)
    assert not_null.examples == [
        {
            "_row": 4,
            "age": None,
            "id": 5,
            "plan": "a",
            "email": "e@x",
            "ts": "2024-05-05T12:00:00+00:00",
        }
    ]
    in_range = result["age: between 0 and 120"]
    assert (in_range.passed, in_range.failing_rows) == (False, 4)
    assert [e["_row"] for e in in_range.examples] == [1, 2, 5, 7]
    assert [e["age"] for e in in_range.examples] == [-1, 150, 200, 130]
    assert in_range.detail == "4 of 8 rows are outside [0, 120]."
    allowed = result["plan: one of ['a', 'b']"]
    assert allowed.failing_rows == 2  # x and y; the null is not_null's business
    assert [e["plan"] for e in allowed.examples] == ["x", "y"]
    unique = result["id: unique"]
    assert (unique.failing_rows, [e["_row"] for e in unique.examples]) == (2, [2, 3])
    assert "(3 appears 2 times)" in unique.detail
    pattern = result["email: matches '@'"]
    assert (pattern.failing_rows, pattern.examples[0]["email"]) == (1, "nope")


def test_at_most_five_examples_are_kept() -> None:
    table = pa.table({"v": list(range(100))})
    (outcome,) = evaluate_checks(table, {"checks": [{"column": "v", "max": 10}]})
    assert outcome.failing_rows == 89
    assert [e["_row"] for e in outcome.examples] == [11, 12, 13, 14, 15]


def test_nan_counts_as_null_and_examples_stay_json() -> None:
    table = pa.table({"x": pa.array([1.0, float("nan"), None, float("inf")])})
    (not_null, top) = evaluate_checks(
        table, {"checks": [{"column": "x", "not_null": True}, {"column": "x", "max": 2}]}
    )
    assert not_null.failing_rows == 2
    assert [e["x"] for e in not_null.examples] == ["NaN", None]
    assert top.failing_rows == 1 and top.examples[0]["x"] == "Infinity"


def test_whole_table_checks() -> None:
    result = outcomes_of(
        [
            {"rows": {"min": 100, "max": 1e7}},
            {"rows": {"max": 10}},
            {"freshness": {"column": "ts", "max_age_hours": 24}},
            {"freshness": {"column": "ts", "max_age_hours": 6}, "name": "fresh enough"},
        ]
    )
    rows = result["rows: between 100 and 10000000"]
    assert not rows.passed and rows.detail == (
        "8 rows; expected at least 100 and at most 10000000."
    )
    assert result["rows: at most 10"].passed
    fresh = result["ts: newest within 24 hours"]
    assert fresh.passed and "12.0 hours old" in fresh.detail
    stale = result["fresh enough"]
    assert not stale.passed and stale.detail.endswith("the limit is 6 hours.")


def test_freshness_of_naive_timestamps_and_dates() -> None:
    table = pa.table({"d": [date(2024, 5, 8)], "t": [datetime(2024, 5, 8, 23)]})
    spec = [
        {"freshness": {"column": "d", "max_age_hours": 23}},
        {"freshness": {"column": "t", "max_age_hours": 2}},
    ]
    day, moment = evaluate_checks(table, spec, now=NOW)
    assert not day.passed and "24.0 hours old" in day.detail
    assert moment.passed


def test_a_missing_column_fails_its_checks_and_names_the_columns() -> None:
    result = outcomes_of(
        [
            {"column": "agee", "not_null": True},
            {"freshness": {"column": "when", "max_age_hours": 1}},
            {"column": "age", "not_null": True},
        ]
    )
    missing = result["agee: not null"]
    assert not missing.passed and missing.column == "agee"
    assert missing.detail == (
        "column 'agee' is missing; the data has columns: id, age, plan, email, ts."
    )
    assert "column 'when' is missing" in result["when: newest within 1 hours"].detail
    assert result["age: not null"].failing_rows == 1  # the other checks still ran


def test_checks_of_the_wrong_kind_of_column_fail_with_a_reason() -> None:
    result = outcomes_of(
        [
            {"column": "plan", "min": 1},
            {"column": "age", "pattern": "x"},
            {"freshness": {"column": "age", "max_age_hours": 1}},
        ]
    )
    assert "a range needs numbers or dates; plan is string" in result["plan: at least 1"].detail
    assert "a pattern needs a text column" in result["age: matches 'x'"].detail
    assert "freshness needs a timestamp or date" in result["age: newest within 1 hours"].detail
    assert not any(o.passed for o in result.values())


def test_date_bounds_on_timestamps() -> None:
    (outcome,) = evaluate_checks(DATA, [{"column": "ts", "min": "2024-05-03", "max": "2024-05-07"}])
    # before the 3rd: the 1st and 2nd; after the 7th (midnight): the 7th at noon and the 8th
    assert [e["_row"] for e in outcome.examples] == [0, 1, 6, 7]


def test_psi_is_zero_for_the_same_shape_and_grows_with_drift() -> None:
    assert psi([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0)
    assert psi([50, 50], [90, 10]) == pytest.approx(
        0.4 * math.log(0.9 / 0.5) - 0.4 * math.log(0.1 / 0.5)
    )


def test_distribution_against_a_reference_profile() -> None:
    rng = np.random.default_rng(3)
    reference = profile_table(
        pa.table({"x": rng.normal(size=5000), "k": rng.choice(["a", "b"], 5000)})
    )
    same = pa.table({"x": rng.normal(size=5000), "k": rng.choice(["a", "b"], 5000)})
    shifted = pa.table({"x": rng.normal(1.0, size=5000), "k": rng.choice(["a", "b", "c"], 5000)})
    spec = [
        {"distribution": {"column": "x", "reference": "ref@1", "max_psi": 0.2}},
        {"distribution": {"column": "k", "reference": "ref@1"}},
    ]
    seen: list[str] = []

    def lookup(ref: str) -> dict[str, Any]:
        seen.append(ref)
        return reference

    assert all(o.passed for o in evaluate_checks(same, spec, reference=lookup))
    drifted = evaluate_checks(shifted, spec, reference=lookup)
    assert not any(o.passed for o in drifted)
    assert drifted[0].detail.startswith("PSI ") and "against ref@1 (over 0.2)" in drifted[0].detail
    assert seen == ["ref@1"] * 4
    (kinds,) = evaluate_checks(pa.table({"x": ["a"]}), [spec[0]], reference=lambda _ref: reference)
    assert not kinds.passed and "they do not compare" in kinds.detail


def test_a_spec_in_yaml_reads_1e7_as_a_number() -> None:
    document = read_spec(
        "checks:\n  - rows: {min: 1, max: 1e7}\n  - {column: d, min: 2024-01-01}\n"
    )
    assert document["checks"][1]["min"] == "2024-01-01"
    rules = parse_spec(document)
    assert rules[0].args == {"min": 1, "max": 10_000_000}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"check": []}, "a mapping with a list under 'checks'"),
        ({"checks": []}, "has no checks"),
        ("checks: [", "not valid YAML"),
        ({"checks": [{"column": "age"}]}, "check 1 {'column': 'age'}: a column entry needs a rule"),
        ({"checks": [{"column": "a", "min": 5, "max": 1}]}, "min (5.0) is greater than max (1.0)"),
        (
            {"checks": [{"column": "a", "nullable": False}]},
            "check 1 {'column': 'a', 'nullable': False}: nullable: Extra inputs",
        ),
        (
            {"checks": [{"not_null": True}, {"column": "x", "unique": True}]},
            "check 1 {'not_null': True}: unknown check not_null",
        ),
        ({"checks": [{"column": "a", "type": "int65"}]}, "type 'int65' is not an Arrow type"),
        ({"checks": [{"column": "a", "pattern": "("}]}, "is not a regular expression"),
        ({"checks": [{"column": "a", "allowed": []}]}, "allowed: List should have at least 1 item"),
        ({"checks": [{"rows": {"min": -1}}]}, "min: Input should be greater than or equal to 0"),
        ({"checks": [{"rows": {}}]}, "rows needs min, max or both"),
        ({"checks": [{"rows": {"min": 1}, "column": "a"}]}, "rows stands alone in its entry"),
        (
            {"checks": [{"distribution": {"column": "a", "reference": "x@0"}}]},
            "the version after '@' must be",
        ),
        ({"checks": [{"freshness": {"column": "a"}}]}, "max_age_hours: Field required"),
        ({"checks": ["age"]}, "check 1 'age': an entry is a mapping"),
    ],
)
def test_an_invalid_spec_names_the_entry(spec: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_spec(spec)
    assert message in caught.value.message
