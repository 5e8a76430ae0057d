"""A deployment's production data: logged inputs, predictions, decisions and late outcomes.

Predictions are read for [since, until]; outcomes from ``since`` on with no upper bound, as an
outcome arrives after its prediction (the last outcome given for a prediction id wins).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from relayml.errors import InvalidInput
from relayml.predictions.logs import PredictionLogs

__all__ = ["OUTCOME_COLUMNS", "arrow_bytes", "from_arrow_bytes", "production_table"]

OUTCOME_COLUMNS = ("outcome", "outcome_value", "outcome_time")
_OUTCOME_TYPES = (pa.string(), pa.float64(), pa.timestamp("ms", tz="UTC"))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stamp(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(values.cast(pa.int64()), pa.timestamp("ms", tz="UTC"))


def production_table(
    logs: PredictionLogs,
    project: str,
    deployment: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pa.Table:
    """The deployment's logged rows in [since, until], oldest first, with their outcomes."""
    if since is not None and until is not None and _utc(since) > _utc(until):
        raise InvalidInput(
            f"since ({_utc(since).isoformat()}) is after until ({_utc(until).isoformat()}); "
            "give since before until."
        )
    found = logs.read("predictions", project, deployment, start=since, end=until)
    if not found.num_rows or "timestamp" not in found.column_names:
        return _with_outcomes(pa.table({"time": pa.array([], pa.timestamp("ms", tz="UTC"))}), None)
    for key in ("project", "deployment", "date"):  # the partition's keys, not the rows' data
        if key in found.column_names:
            found = found.drop_columns([key])
    found = found.sort_by([("timestamp", "ascending"), ("prediction_id", "ascending")])
    found = found.add_column(0, "time", _stamp(found["timestamp"]))
    outcomes = logs.read("outcomes", project, start=since)
    return _with_outcomes(found, outcomes if outcomes.num_rows else None)


def _with_outcomes(table: pa.Table, outcomes: pa.Table | None) -> pa.Table:
    if outcomes is None or "prediction_id" not in table.column_names:
        for name, kind in zip(OUTCOME_COLUMNS, _OUTCOME_TYPES, strict=True):
            table = table.append_column(name, pa.nulls(table.num_rows, kind))
        return table
    last = (
        outcomes.select(["prediction_id", "label", "value", "timestamp"])
        .to_pandas()
        .sort_values("timestamp", kind="stable")
        .drop_duplicates("prediction_id", keep="last")
    )
    right = pa.table(
        {
            "prediction_id": pa.array(last["prediction_id"], pa.string()),
            "outcome": pa.array(last["label"], pa.string()),
            "outcome_value": pa.array(last["value"], pa.float64()),
            "outcome_time": _stamp(pa.chunked_array([pa.array(last["timestamp"], pa.int64())])),
        }
    )
    # each logged row's outcome by position (Arrow's join refuses list columns such as a
    # classifier's probabilities among the carried fields, so the outcome columns are taken)
    found = pc.index_in(table.column("prediction_id"), value_set=right.column("prediction_id"))
    for name in ("outcome", "outcome_value", "outcome_time"):
        table = table.append_column(name, right.column(name).take(found))
    return table


def arrow_bytes(table: pa.Table) -> bytes:
    """The table as an Arrow IPC stream (what the API sends)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def from_arrow_bytes(data: bytes) -> pa.Table:
    """The table an Arrow IPC stream holds."""
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()
