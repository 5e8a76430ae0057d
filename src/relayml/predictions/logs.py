"""PredictionLogs: the one handle on the prediction, outcome and request logs of a root folder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from relayml.errors import InvalidInput
from relayml.predictions.layout import LOGS, deployment_partition, project_partition

if TYPE_CHECKING:
    # The handle is held by every backend; numpy, pandas and pyarrow load when a log is used.
    import pandas as pd
    import pyarrow as pa

    from relayml.predictions.writer import ParquetLog

__all__ = ["LogOptions", "PredictionLogs"]


@dataclass(frozen=True)
class LogOptions:
    """How the logs are reached and written: storage options, flush interval, memory bound."""

    storage: dict[str, Any] = field(default_factory=dict)
    flush_interval: float = 1.0
    max_rows: int = 500_000


class PredictionLogs:
    """The logs under `root` (a folder or fsspec URL): write, read, join, compact."""

    def __init__(self, root: str, options: LogOptions | None = None) -> None:
        self.root = root.rstrip("/")
        self.options = options or LogOptions()

    def __repr__(self) -> str:
        return f"PredictionLogs({self.root!r})"

    @property
    def storage(self) -> dict[str, Any] | None:
        """The fsspec options, or None when there are none."""
        return self.options.storage or None

    def url(self, log: str) -> str:
        """The root URL of one log: predictions, outcomes or requests."""
        if log not in LOGS:
            raise InvalidInput(f"unknown log {log!r}; the logs are {', '.join(LOGS)}.")
        return f"{self.root}/{log}"

    def deployment_url(self, log: str, project: str, deployment: str) -> str:
        """The folder of one deployment's rows of a log (for readers such as Dask)."""
        return f"{self.url(log)}/{deployment_partition(project, deployment)}"

    def writer(
        self, log: str, *, name: str | None = None, low_priority: bool = False
    ) -> ParquetLog:
        """A new background writer of one log (close it to flush); bounded by options.max_rows.

        The outcome log is not held to the prediction log's bound: outcomes are few and precious.
        """
        from relayml.predictions.writer import ParquetLog

        bound = self.options.max_rows if log != "outcomes" else 500_000
        return ParquetLog(
            self.url(log),
            options=self.storage,
            flush_interval=self.options.flush_interval,
            max_rows=bound,
            name=name or f"relay-{log}",
            low_priority=low_priority,
        )

    def read(
        self,
        log: str,
        project: str,
        deployment: str | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        columns: Sequence[str] | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> pa.Table:
        """Rows of a project (or one deployment) whose day and timestamp fall in [start, end]."""
        from relayml.predictions.reader import read_log

        prefix = (
            deployment_partition(project, deployment)
            if deployment is not None
            else project_partition(project)
        )
        return read_log(
            self.url(log),
            prefix,
            options=self.storage,
            start=start,
            end=end,
            columns=columns,
            filters=filters,
        )

    def joined(self, project: str, deployment: str, since: datetime | None) -> pd.DataFrame:
        """Predictions of a deployment since a moment, with their outcomes (label, value) if any.

        The last outcome given for a prediction id wins.
        """
        import numpy as np

        predictions = self.read("predictions", project, deployment, start=since).to_pandas()
        if predictions.empty:
            return predictions
        outcomes = self.read("outcomes", project, start=since)
        if outcomes.num_rows:
            last = (
                outcomes.to_pandas()[["prediction_id", "label", "value", "timestamp"]]
                .sort_values("timestamp")
                .drop_duplicates("prediction_id", keep="last")
                .drop(columns="timestamp")
                .rename(columns={"label": "outcome", "value": "outcome_value"})
            )
            return predictions.merge(last, on="prediction_id", how="left")
        predictions["outcome"] = None
        predictions["outcome_value"] = np.nan
        return predictions

    def log_outcomes(
        self,
        project: str,
        ids: Sequence[str],
        values: Sequence[Any],
        *,
        model: str | None,
        source: str,
    ) -> int:
        """Check outcomes and write them now (durable on return); returns how many."""
        from relayml.predictions.outcomes import append_outcomes, plain_list

        ids, values = plain_list(ids), plain_list(values)
        with self.writer("outcomes", name="relay-outcomes") as log:
            return append_outcomes(log, project, ids, values, model=model, source=source)

    def compact(self, log: str, partition: str, day: date | str) -> int:
        """Merge one partition's files of one day into one file; returns how many were merged."""
        from relayml.predictions import compaction

        return compaction.compact(self.url(log), partition, day, options=self.storage)

    def compact_closed_days(
        self, project: str | None = None, *, today: date | None = None
    ) -> list[dict[str, Any]]:
        """Compact every day before today of every log (of one project, if given)."""
        from relayml.predictions import compaction

        return compaction.compact_closed_days(
            {log: self.url(log) for log in LOGS}, project, options=self.storage, today=today
        )
