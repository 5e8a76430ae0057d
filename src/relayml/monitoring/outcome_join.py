"""Predictions joined with their last outcomes, read from the logs: what the window figures and the
A/B pages compute from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from relayml.errors import InvalidInput
from relayml.predictions import PredictionLogs

__all__ = ["AB_COLUMNS", "id_range", "joined", "joined_columns", "last_outcomes"]


def last_outcomes(
    logs: PredictionLogs, project: str, since: datetime | None
) -> pd.DataFrame | None:
    """The last outcome per prediction id logged since a moment (as PredictionLogs.joined)."""
    outcomes = logs.read("outcomes", project, start=since)
    if not outcomes.num_rows:
        return None
    return (
        outcomes.to_pandas()[["prediction_id", "label", "value", "timestamp"]]
        .sort_values("timestamp")
        .drop_duplicates("prediction_id", keep="last")
        .drop(columns="timestamp")
        .rename(columns={"label": "outcome", "value": "outcome_value"})
    )


def joined(predictions: pd.DataFrame, last: pd.DataFrame | None) -> pd.DataFrame:
    """Predictions with their outcomes, as PredictionLogs.joined shapes them."""
    if predictions.empty:
        return predictions
    if last is not None:
        return predictions.merge(last, on="prediction_id", how="left")
    predictions["outcome"] = None
    predictions["outcome_value"] = np.nan
    return predictions


def id_range(frame: pd.DataFrame) -> list[str] | None:
    """The lowest and highest prediction id of a window's rows (outcomes join by this range)."""
    if not len(frame):
        return None
    ids = frame["prediction_id"].astype(str)
    return [ids.min(), ids.max()]


AB_COLUMNS = ("variant", "version", "mode", "latency_ms", "prediction", "score")


def joined_columns(
    logs: PredictionLogs,
    project: str,
    deployment: str,
    since: datetime | None,
    columns: tuple[str, ...] = AB_COLUMNS,
) -> pd.DataFrame:
    """PredictionLogs.joined's rows with only some columns (those the log has), plus outcome and
    outcome_value: the same rows, order and values, read and joined in Arrow; variant and mode as
    pandas categories."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = ["prediction_id", *columns]
    try:
        table = logs.read("predictions", project, deployment, start=since, columns=wanted)
    except InvalidInput:  # a log without some of them (no score): read what it has
        table = logs.read("predictions", project, deployment, start=since)
        table = table.select([c for c in wanted if c in table.column_names])
    if not table.num_rows:
        return pd.DataFrame()
    last = last_outcomes(logs, project, since)
    if last is None:
        outcome: Any = pa.nulls(table.num_rows, pa.string())
        value: Any = pa.array(np.full(table.num_rows, np.nan))
    else:
        where = pc.index_in(table["prediction_id"], value_set=pa.array(last["prediction_id"]))
        labels = pa.array(last["outcome"].astype(object), from_pandas=True)
        outcome = labels.take(where)
        value = pa.array(last["outcome_value"].to_numpy(np.float64)).take(where)
    for name in ("variant", "mode"):
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, pc.dictionary_encode(table[name]))
    table = table.drop_columns(["prediction_id"])
    frame = table.to_pandas()
    frame["outcome"] = outcome.to_pandas()
    frame["outcome_value"] = value.to_numpy(zero_copy_only=False).astype(np.float64)
    return frame
