"""The latest predictions of a deployment, newest first, a bounded page at a time.

Reads the prediction log day by day from the newest day back, only a few columns, and stops as
soon as the page is full, so a page costs about one day's worth of those columns however long
the log is. The cursor is the (timestamp, prediction id) of the page's last row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from relayml.errors import InvalidInput
from relayml.predictions._files import open_fs, visible_parts
from relayml.predictions.layout import DAY_KEY, deployment_partition, project_partition
from relayml.predictions.logs import PredictionLogs

__all__ = ["LatestPage", "deployments_in_log", "latest_predictions", "outcome_of"]

COLUMNS = ("timestamp", "prediction_id", "version", "variant", "mode", "prediction", "decision")
LARGEST_PAGE = 200


@dataclass
class LatestPage:
    """A page of predictions (newest first) and the cursor of the next page (None: the end)."""

    rows: list[dict[str, Any]]
    next_cursor: str | None


def _days(logs: PredictionLogs, partition: str) -> list[str]:
    fs, root, _ = open_fs(logs.url("predictions"), logs.storage)
    days = set()
    for path in visible_parts(fs, root, partition):
        for segment in path.split("/"):
            if segment.startswith(DAY_KEY + "="):
                days.add(segment[len(DAY_KEY) + 1 :])
    return sorted(days, reverse=True)


def deployments_in_log(logs: PredictionLogs, project: str) -> list[str]:
    """The deployments (model-environment) that have rows in the project's prediction log."""
    fs, root, _ = open_fs(logs.url("predictions"), logs.storage)
    base = root.rstrip("/") + "/" + project_partition(project)
    try:
        entries = fs.ls(base, detail=False)
    except FileNotFoundError:
        return []
    names = [str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries]
    return sorted(n.removeprefix("deployment=") for n in names if n.startswith("deployment="))


def _parse_cursor(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    stamp, _, pid = cursor.partition(":")
    if not stamp.isdigit() or not pid:
        raise InvalidInput(f"cursor {cursor!r} is not valid: use the link of the page before.")
    return int(stamp), pid


def latest_predictions(
    logs: PredictionLogs,
    project: str,
    deployment: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    live_only: bool = True,
) -> LatestPage:
    """Up to ``limit`` predictions of a deployment older than ``cursor``, newest first."""
    if not 1 <= limit <= LARGEST_PAGE:
        raise InvalidInput(f"limit must be from 1 to {LARGEST_PAGE}, not {limit}.")
    after = _parse_cursor(cursor)
    partition = deployment_partition(project, deployment)
    rows: list[dict[str, Any]] = []
    for day in _days(logs, partition):
        start = datetime.combine(date.fromisoformat(day), time(0), UTC)
        end = start + timedelta(days=1) - timedelta(milliseconds=1)
        if after is not None:
            last = datetime.fromtimestamp(after[0] / 1000, UTC)
            if last < start:
                continue
            end = min(end, last)
        since = _narrowed(logs, project, deployment, start, end, limit + 1 - len(rows), live_only)
        if since is None:
            continue
        table = _read_day(logs, project, deployment, since, end)
        if not table.num_rows:
            continue
        if live_only and "mode" in table.column_names:
            table = table.filter(pc.equal(table["mode"], "live"))
        if after is not None:
            stamp, pid = after
            older = pc.less(table["timestamp"], stamp)
            tie = pc.and_(pc.equal(table["timestamp"], stamp), pc.less(table["prediction_id"], pid))
            table = table.filter(pc.or_(older, tie))
        table = table.sort_by([("timestamp", "descending"), ("prediction_id", "descending")])
        rows += _plain(table.slice(0, limit + 1 - len(rows)))
        if len(rows) > limit:
            break
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = f"{rows[-1]['timestamp']}:{rows[-1]['prediction_id']}" if more else None
    return LatestPage(rows, next_cursor)


def _narrowed(
    logs: PredictionLogs,
    project: str,
    deployment: str,
    start: datetime,
    end: datetime,
    wanted: int,
    live_only: bool,
) -> datetime | None:
    """The latest moment from which [start, end] still holds ``wanted`` rows (None: no row):
    two small columns are read first, so the full columns are read for about a page only."""
    try:
        found = logs.read("predictions", project, deployment, start=start, end=end,
                          columns=("timestamp", "mode"))  # fmt: skip
    except InvalidInput:
        return start
    if not found.num_rows:
        return None
    if live_only:
        found = found.filter(pc.equal(found["mode"], "live"))
    stamps = found["timestamp"].to_numpy()
    if len(stamps) <= wanted:
        return start
    threshold = int(np.partition(stamps, len(stamps) - wanted)[len(stamps) - wanted])
    return max(start, datetime.fromtimestamp((threshold - 1) / 1000, UTC))  # 1 ms of slack


def _read_day(
    logs: PredictionLogs, project: str, deployment: str, start: datetime, end: datetime
) -> pa.Table:
    try:
        return logs.read("predictions", project, deployment, start=start, end=end, columns=COLUMNS)
    except InvalidInput:  # a log without answers' or decisions' columns (an older writer)
        return logs.read(
            "predictions", project, deployment, start=start, end=end, columns=COLUMNS[:5]
        )


def _plain(table: pa.Table) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = table.to_pylist()
    for row in out:
        row["time"] = datetime.fromtimestamp(row["timestamp"] / 1000, UTC)
    return out


def outcome_of(
    logs: PredictionLogs, project: str, prediction_id: str, made: datetime
) -> dict[str, Any] | None:
    """The last outcome recorded for a prediction (label, source, when), or None."""
    table = logs.read("outcomes", project, start=made)
    if not table.num_rows or "prediction_id" not in table.column_names:
        return None
    table = table.filter(pc.equal(table["prediction_id"], prediction_id))
    if not table.num_rows:
        return None
    rows: list[dict[str, Any]] = table.to_pylist()
    row = max(rows, key=lambda r: r["timestamp"])
    row["time"] = datetime.fromtimestamp(row["timestamp"] / 1000, UTC)
    return row
