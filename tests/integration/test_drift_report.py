"""Drift reports on Arrow and pandas data: known shifts found, no false alarms, nulls, new
categories, bad input, and the streamed and Dask paths against the exact one."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from relayml.domain.drift_results import DriftConfig, DriftReport
from relayml.errors import InvalidInput
from relayml.monitoring.drift_reports import drift_report, drift_report_dask, drift_report_stream

NUMERIC = 16
CATEGORIES = {"c0": 3, "c1": 5, "c2": 8, "c3": 12}  # 16 + 4 = 20 columns
SHIFTED = ("n04", "n08", "c2")  # mean + 0.5 std; std x 1.5; the two top categories swap


def sample(rows: int, seed: int, shifted: bool = False) -> pa.Table:
    """20 columns of varied kinds; with `shifted`, the 3 columns of SHIFTED move."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i in range(NUMERIC):
        kind = i % 4
        if kind == 0:
            values = rng.normal(10.0, 2.0, rows)
            if shifted and i == 4:
                values += 0.5 * 2.0
            if shifted and i == 8:
                values = 10.0 + (values - 10.0) * 1.5
        elif kind == 1:
            values = rng.lognormal(0.0, 0.6, rows)
        elif kind == 2:
            values = rng.uniform(-5.0, 5.0, rows)
        else:  # an integer code of 4 values: compared by counts
            values = rng.integers(0, 4, rows)
        columns[f"n{i:02d}"] = values
    for name, k in CATEGORIES.items():
        weights = 1.0 / np.arange(1, k + 1)
        if shifted and name == "c2":
            weights[[0, 1]] = weights[[1, 0]]
        codes = rng.choice(k, rows, p=weights / weights.sum())
        columns[name] = pa.array(np.array([f"{name}_{j}" for j in range(k)])[codes])
    return pa.table(columns)


# -- known shifts, and no false alarms -----------------------------------------------------------


def test_exactly_the_three_shifted_columns_are_flagged() -> None:
    report = drift_report(sample(20_000, 1), sample(20_000, 2, shifted=True))
    assert report.drifted_columns == SHIFTED
    assert len(report.columns) == 20 and report.share == 3 / 20
    assert not report.dataset_drifted
    by_name = {c.column: c for c in report.columns}
    assert by_name["n04"].method == "wasserstein" and by_name["n04"].score == pytest.approx(
        0.5, abs=0.03
    )
    assert by_name["n08"].score == pytest.approx(0.5 * math.sqrt(2 / math.pi), abs=0.03)
    assert by_name["c2"].method == "jensenshannon" and by_name["c2"].score > 0.15
    assert by_name["n03"].kind == "categorical" and by_name["n03"].method == "jensenshannon"
    assert by_name["n01"].kind == "numeric"


@pytest.mark.parametrize(("rows", "per_column_rate"), [(5000, 0.0), (500, 0.12)])
def test_unshifted_data_over_20_seeds_raises_no_dataset_alarm(
    rows: int, per_column_rate: float
) -> None:
    """Large samples (distances) raise no column alarm; small ones (p-values at 0.05) a few."""
    alarms = 0
    for seed in range(20):
        report = drift_report(sample(rows, 100 + seed), sample(rows, 200 + seed))
        assert not report.dataset_drifted, (seed, report.drifted_columns)
        alarms += len(report.drifted_columns)
    assert alarms <= per_column_rate * 20 * 20


def test_a_dataset_drifts_when_half_its_columns_do() -> None:
    ref, cur = sample(3000, 1), sample(3000, 2, shifted=True)
    names = ["n04", "n08", "c2", "n01", "n02"]
    assert drift_report(ref, cur, columns=names).share == 0.6
    assert drift_report(ref, cur, columns=names).dataset_drifted
    stricter = DriftConfig(drift_share=0.7)
    assert not drift_report(ref, cur, columns=names, config=stricter).dataset_drifted


def test_prediction_is_reported_apart_from_the_share() -> None:
    ref, cur = sample(3000, 1), sample(3000, 2, shifted=True)
    report = drift_report(ref, cur, columns=["n01", "n02"], prediction="n04")
    assert report.prediction is not None and report.prediction.drifted
    assert [c.column for c in report.columns] == ["n01", "n02"] and report.share == 0.0


def test_methods_and_thresholds_can_be_set() -> None:
    ref, cur = sample(3000, 1), sample(3000, 2, shifted=True)
    config = DriftConfig(
        methods={"n04": "psi", "c2": "chisquare", "n03": "wasserstein"},
        thresholds={"n08": 5.0},
    )
    report = drift_report(ref, cur, columns=["n04", "n08", "c2", "n03"], config=config)
    by_name = {c.column: c for c in report.columns}
    assert by_name["n04"].method == "psi" and by_name["n04"].drifted
    assert by_name["c2"].method == "chisquare" and by_name["c2"].score < 1e-6
    assert by_name["n03"].kind == "numeric"  # a numeric-only method keeps a code numeric
    assert by_name["n08"].threshold == 5.0 and not by_name["n08"].drifted


# -- nulls, new categories, kinds ----------------------------------------------------------------


def test_nulls_are_reported_and_left_out_of_the_statistics() -> None:
    rng = np.random.default_rng(3)
    ref = pa.table({"x": rng.normal(0, 1, 4000), "s": rng.choice(["a", "b"], 4000)})
    x = rng.normal(0, 1, 4000)
    holes = rng.random(4000) < 0.3
    cur = pa.table(
        {
            "x": pa.array(np.where(holes, np.nan, x)),
            "s": pa.array(rng.choice(["a", "b"], 4000), mask=holes),
        }
    )
    report = drift_report(ref, cur)
    x_drift, s_drift = report.columns
    assert x_drift.current_missing == pytest.approx(holes.mean())
    assert x_drift.reference_missing == 0.0
    assert x_drift.current_count == 4000 - holes.sum() == s_drift.current_count
    assert report.drifted_columns == ()
    present = drift_report(ref, pa.table({"x": x[~holes]}), columns=["x"])
    assert x_drift.score == present.columns[0].score


def test_categories_unseen_in_the_reference() -> None:
    rng = np.random.default_rng(4)
    ref = pa.table({"plan": rng.choice(["free", "pro"], 5000)})
    cur = pa.table({"plan": rng.choice(["free", "pro", "team"], 5000, p=[0.4, 0.4, 0.2])})
    column = drift_report(ref, cur).columns[0]
    assert column.drifted and column.method == "jensenshannon"
    counts = dict(zip(column.histogram.labels, column.histogram.reference, strict=True))
    assert counts["team"] == 0 and sum(column.histogram.current) == 5000


def test_arrow_types_decide_the_kind() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    table = pa.table(
        {
            "f32": pa.array(rng.normal(size=n), pa.float32()),
            "i64": rng.integers(0, 1000, n),
            "flag": pa.array(rng.random(n) < 0.5),
            "tier": pa.array(rng.choice(["a", "b", "c"], n)).dictionary_encode(),
            "code": rng.integers(0, 1000, n),
            "when": pa.array(np.arange(n), pa.timestamp("s")),
        }
    )
    report = drift_report(table, table, categorical=["code"])
    kinds = {c.column: c.kind for c in report.columns}
    assert kinds == {
        "f32": "numeric",
        "i64": "numeric",
        "flag": "categorical",
        "tier": "categorical",
        "code": "categorical",
    }  # the timestamp is skipped
    assert report.drifted_columns == ()


def test_pandas_and_arrow_inputs_give_the_same_report() -> None:
    ref, cur = sample(3000, 1), sample(3000, 2, shifted=True)
    frame = cur.to_pandas()
    frame["c1"] = frame["c1"].astype("category")
    frame["n03"] = frame["n03"].astype("Int64")
    frame.loc[::7, "n03"] = pd.NA
    cur = cur.set_column(cur.schema.get_field_index("n03"), "n03", pa.array(frame["n03"]))
    from_arrow = drift_report(ref, cur).to_dict()
    from_pandas = drift_report(ref.to_pandas(), frame).to_dict()
    assert from_pandas == from_arrow


# -- bad input -----------------------------------------------------------------------------------


def test_an_empty_current_window_is_refused() -> None:
    ref = sample(100, 1)
    with pytest.raises(InvalidInput) as err:
        drift_report(ref, ref.slice(0, 0))
    assert err.value.message == (
        "the current data has no rows: drift needs values on both sides; pick a window with data"
    )
    with pytest.raises(InvalidInput, match="the reference data has no rows"):
        drift_report(ref.slice(0, 0), ref)
    with pytest.raises(InvalidInput, match="the current data has no rows"):
        drift_report_stream(ref, [])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"columns": ["n01", "nope"]}, "column(s) 'nope' not in both the reference and the"),
        ({"categorical": ["zzz"]}, "column(s) 'zzz' not in both"),
        ({"columns": ["when"]}, "column 'when' is timestamp[s]: drift is computed for numbers"),
        ({"columns": []}, "columns is empty: name the columns to compare, or pass None"),
    ],
)
def test_bad_columns_are_named(kwargs: dict[str, Any], message: str) -> None:
    ref = sample(100, 1).append_column("when", pa.array(np.arange(100), pa.timestamp("s")))
    with pytest.raises(InvalidInput) as err:
        drift_report(ref, ref, **kwargs)
    assert message in err.value.message


def test_data_of_the_wrong_kind() -> None:
    with pytest.raises(InvalidInput, match="the reference data is a list; pass a pyarrow Table"):
        drift_report([1, 2], sample(10, 1))  # type: ignore[arg-type]
    ref = pa.table({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(InvalidInput, match="column 'x' cannot be read as numbers"):
        drift_report(ref, pa.table({"x": ["a", "b", "c"]}))


# -- streamed and on Dask: the same verdicts, close scores ---------------------------------------


def _close(binned: DriftReport, exact: DriftReport) -> None:
    assert binned.drifted_columns == exact.drifted_columns
    assert (binned.reference_rows, binned.current_rows) == (
        exact.reference_rows,
        exact.current_rows,
    )
    for b, e in zip(binned.columns, exact.columns, strict=True):
        assert (b.column, b.kind, b.method) == (e.column, e.kind, e.method)
        assert b.score == pytest.approx(e.score, abs=2e-3, rel=2e-2)
        assert b.current_missing == e.current_missing


def test_a_window_streamed_in_batches() -> None:
    ref, cur = sample(30_000, 1), sample(30_000, 2, shifted=True)
    exact = drift_report(ref, cur)
    streamed = drift_report_stream(ref, cur.to_batches(max_chunksize=7_000))
    assert all(c.binned for c in streamed.columns if c.kind == "numeric")
    _close(streamed, exact)


def test_dask_dataframes_partition_by_partition() -> None:
    import dask
    import dask.dataframe as dd

    ref, cur = sample(30_000, 1), sample(30_000, 2, shifted=True)
    exact = drift_report(ref, cur)
    with dask.config.set(scheduler="threads"):
        on_dask = drift_report_dask(
            dd.from_pandas(ref.to_pandas(), npartitions=3),
            dd.from_pandas(cur.to_pandas(), npartitions=5),
        )
        in_memory_reference = drift_report_dask(ref, dd.from_pandas(cur.to_pandas(), npartitions=2))
    _close(on_dask, exact)
    _close(in_memory_reference, exact)
