"""The A/B report's sums per UTC day, each closed day's sums kept (monitoring/window_cache.py).

The report (deployments/abresults.py) is built from per-day sums of each (variant, mode): how many
predictions, their latencies, and for the rows with an outcome the counts and values its metrics,
KPIs and tests need. A day that lies wholly in the span and is over is read from the log once and
its sums kept in ``_window_cache/project=<p>/deployment=<d>/ab-day.json`` under the logs' root,
with the fingerprints window_cache uses: the names and sizes of the day's log files, and the last
outcomes whose prediction id lies between the day's smallest and largest one (ids start with
their time, so a late outcome only touches its own day), plus the task, positive class and KPIs.
The open day and the partial first day are read on each view. The sums of a day are the same
whether kept or computed, and the report merges them in the same order, so the figures are the
same; latency percentiles stay exact (each day keeps its latencies, packed).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from relayml.domain.entities import KPI
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput
from relayml.monitoring.outcome_join import id_range
from relayml.monitoring.window_cache import WindowFigures
from relayml.monitoring.window_records import digest
from relayml.monitoring.windows import WindowQuery
from relayml.predictions import PredictionLogs, canonical_labels

__all__ = ["ABDays", "DaySums", "GroupSums", "cell_counts"]

_COLUMNS = ("prediction_id", "variant", "version", "mode", "latency_ms", "prediction", "score")
_MS = timedelta(milliseconds=1)
Order = list[tuple[str, int, str]]


@dataclass
class GroupSums:
    """One (variant, mode)'s figures over some rows: what the report needs of them."""

    predictions: int = 0
    latency: list[np.ndarray] = field(default_factory=list)
    outcomes: int = 0
    correct: int = 0  # classification: predictions equal to their outcome
    cells: dict[str, list[int]] = field(default_factory=dict)  # KPI -> tp, fp, fn, tn counts
    errors: list[np.ndarray] = field(default_factory=list)  # regression: prediction - outcome

    def add(self, other: GroupSums) -> None:
        """Add another day's sums to these (later days after earlier ones)."""
        self.predictions += other.predictions
        self.latency += other.latency
        self.outcomes += other.outcomes
        self.correct += other.correct
        for name, counts in other.cells.items():
            mine = self.cells.setdefault(name, [0, 0, 0, 0])
            self.cells[name] = [a + b for a, b in zip(mine, counts, strict=True)]
        self.errors += other.errors


@dataclass
class DaySums:
    """The (variant, version, mode) in the order first logged, and each (variant, mode)'s sums."""

    order: Order = field(default_factory=list)
    groups: dict[tuple[str, str], GroupSums] = field(default_factory=dict)

    def add(self, other: DaySums) -> None:
        """Add a later day's sums."""
        self.order += [o for o in other.order if o not in self.order]
        for group, sums in other.groups.items():
            self.groups.setdefault(group, GroupSums()).add(sums)


# ---------------------------------------------------------------- sums of rows


def cell_counts(kpi: KPI, rows: pd.DataFrame, positive: str) -> list[int] | None:
    """tp, fp, fn, tn of rows with outcomes as a confusion_value KPI counts them, or None."""
    if kpi.definition.get("type") != "confusion_value":
        return None
    threshold = kpi.definition.get("threshold")
    actual = rows["outcome"].to_numpy() == positive
    if threshold is not None and "score" in rows:
        predicted = rows["score"].to_numpy() >= float(threshold)
    else:
        predicted = np.array(canonical_labels(rows["prediction"].to_numpy())) == positive
    return [
        int((predicted & actual).sum()),
        int((predicted & ~actual).sum()),
        int((~predicted & actual).sum()),
        int((~predicted & ~actual).sum()),
    ]


def _outcome_sums(
    sums: GroupSums, known: pd.DataFrame, task: str, kpis: list[KPI], positive: str | None
) -> None:
    sums.outcomes = len(known)
    if not len(known):
        return
    if task == "classification":
        predicted = np.array(canonical_labels(known["prediction"].to_numpy()), dtype=object)
        sums.correct = int((predicted == known["outcome"].to_numpy()).sum())
        if positive is not None:
            for kpi in kpis:
                counts = cell_counts(kpi, known, positive)
                if counts is not None:
                    sums.cells[kpi.name] = counts
    else:
        prediction = known["prediction"].astype(np.float64).to_numpy()
        sums.errors = [prediction - known["outcome_value"].to_numpy(np.float64)]


def order_of(frame: pd.DataFrame) -> Order:
    """(variant, version, mode) of the rows, in the order first logged."""
    if frame.empty:
        return []
    logged = frame[["variant", "version", "mode"]].drop_duplicates()
    return [(str(n), int(v), str(m)) for n, v, m in logged.itertuples(index=False)]


def sums_of(frame: pd.DataFrame, task: str, kpis: list[KPI], positive: str | None) -> DaySums:
    """The sums of some rows (joined with their outcomes) per (variant, mode)."""
    day = DaySums(order=order_of(frame))
    for name, _, mode in day.order:
        if (name, mode) in day.groups:
            continue
        rows = frame[(frame["variant"] == name) & (frame["mode"] == mode)]
        sums = GroupSums(predictions=len(rows), latency=[rows["latency_ms"].to_numpy(np.float64)])
        _outcome_sums(sums, rows[rows["outcome"].notna()], task, kpis, positive)
        day.groups[(name, mode)] = sums
    return day


# ---------------------------------------------------------------- kept form


def _pack(values: list[np.ndarray]) -> str:
    joined = np.concatenate(values) if values else np.array([], np.float64)
    return base64.b64encode(joined.astype("<f8").tobytes()).decode()


def _unpack(text: str) -> list[np.ndarray]:
    return [np.frombuffer(base64.b64decode(text), "<f8").astype(np.float64)]


def _day_out(day: DaySums) -> dict[str, Any]:
    groups = [
        {"variant": name, "mode": mode, "predictions": g.predictions,
         "latency": _pack(g.latency), "outcomes": g.outcomes, "correct": g.correct,
         "cells": g.cells, "errors": _pack(g.errors) if g.errors else None}
        for (name, mode), g in day.groups.items()
    ]  # fmt: skip
    return {"order": [list(o) for o in day.order], "groups": groups}


def _day_in(data: dict[str, Any]) -> DaySums:
    day = DaySums(order=[(str(n), int(v), str(m)) for n, v, m in data["order"]])
    for g in data["groups"]:
        day.groups[(g["variant"], g["mode"])] = GroupSums(
            predictions=g["predictions"],
            latency=_unpack(g["latency"]),
            outcomes=g["outcomes"],
            correct=g["correct"],
            cells={k: list(v) for k, v in g["cells"].items()},
            errors=_unpack(g["errors"]) if g["errors"] is not None else [],
        )
    return day


# ---------------------------------------------------------------- the days


class ABDays(WindowFigures):
    """The A/B report's rows cut in UTC days since a moment, closed days' sums kept."""

    def __init__(
        self,
        backend: Backend,
        logs: PredictionLogs,
        project: str,
        model: str,
        environment: str,
        since: datetime | None,
        *,
        keep: bool = True,
        now: datetime | None = None,
    ) -> None:
        query = WindowQuery(project, model, environment, "day", utc(since))
        super().__init__(backend, logs, query, now=now, keep=keep, name="ab-day")
        self._frames: dict[datetime, pd.DataFrame] = {}

    def frame(self, start: datetime) -> pd.DataFrame:
        """The rows of one day in the span (the A/B columns), with their outcomes."""
        if start not in self._frames:
            self._frames[start] = self._read(start)
        return self._frames[start]

    def _read(self, start: datetime) -> pd.DataFrame:
        since = self.query.since
        low = max(start, since) if since else start
        end = start + self.size - _MS
        project, deployment = self.query.project, self.deployment
        try:
            table = self.logs.read(
                "predictions", project, deployment, start=low, end=end, columns=_COLUMNS
            )
        except InvalidInput:  # a log without some of them (no score): read what it has
            table = self.logs.read("predictions", project, deployment, start=low, end=end)
            table = table.select([c for c in _COLUMNS if c in table.column_names])
        frame = table.to_pandas()
        if frame.empty:
            return frame
        last = self._outcomes()
        if last is None:
            frame["outcome"] = None
            frame["outcome_value"] = np.nan
            return frame
        return frame.merge(last, on="prediction_id", how="left")

    def _fresh_entry(self, start: datetime) -> dict[str, Any]:
        """A closed day's entry: its id range and the order its variants were first logged."""
        frame = self.frame(start)
        return {"ids": id_range(frame), "order": [list(o) for o in order_of(frame)]}

    def orders(self) -> Order:
        """(variant, version, mode) of the span's rows, in the order first logged."""
        out: Order = []
        for start in self._windows():
            entry = self._entry(start)
            found = (
                [(str(n), int(v), str(m)) for n, v, m in entry["order"]]
                if entry is not None
                else order_of(self.frame(start))
            )
            out += [o for o in found if o not in out]
        return out

    def sums(self, task: str, kpis: list[KPI], positive: str | None) -> DaySums:
        """The span's sums, day after day (closed days' read back while nothing changed)."""
        depends = digest("ab", task, positive, repr(kpis))
        total = DaySums()
        for start in self._windows():
            entry = self._entry(start)
            if entry is None:
                total.add(sums_of(self.frame(start), task, kpis, positive))
                continue
            key = depends + ":" + self._outcome_digest(entry)
            kept = entry.get("ab")
            if isinstance(kept, dict) and kept.get("key") == key:
                day = _day_in(kept["value"])
            else:
                day = sums_of(self.frame(start), task, kpis, positive)
                entry["ab"] = {"key": key, "value": _day_out(day)}
                self._changed = True
            total.add(day)
        return total


def utc(moment: datetime | None) -> datetime | None:
    """A moment in UTC (naive ones taken as UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
