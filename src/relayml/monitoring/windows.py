"""Monitoring of a deployment per time window (and per variant): drift and performance.

The current data is the prediction log (live rows) joined with the outcomes that arrived so far.
The reference is the model version's training dataset (the `datasets` it was logged with), or
any dataset version chosen instead; the predictions' reference is the model's own answers on it.

Performance with late labels: for each window, the metrics of the rows whose outcome has arrived,
and for classifiers an estimate over every row from the probabilities (CBPE-style: if the model is
calibrated, a row predicted with probability p of its chosen class is right with probability p,
so the expected accuracy is the mean of those p). The estimate is labelled as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from relayml.domain.drift_results import DriftConfig, DriftReport
from relayml.domain.models import ModelVersion
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput
from relayml.monitoring.drift_reports import drift_report
from relayml.predictions import PredictionLogs, canonical_labels
from relayml.predictions.layout import deployment_key

__all__ = [
    "WINDOWS",
    "DriftWindow",
    "PerformanceWindow",
    "WindowQuery",
    "drift_by_window",
    "drift_of_frame",
    "drift_of_rows",
    "live_rows",
    "live_windows",
    "performance_by_window",
    "performance_of_rows",
    "reference_for",
    "reference_with_predictions",
    "split_windows",
    "window_length",
]

WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
_INPUT = "input."


@dataclass
class DriftWindow:
    """Drift of one window (and variant) against the reference."""

    start: datetime
    end: datetime
    variant: str | None
    rows: int
    report: DriftReport


@dataclass
class PerformanceWindow:
    """What one window's predictions scored once their outcomes arrived, and the estimate."""

    start: datetime
    end: datetime
    variant: str | None
    predictions: int
    outcomes: int
    metrics: dict[str, float] = field(default_factory=dict)
    estimated: dict[str, float] = field(default_factory=dict)


def window_length(name: str) -> timedelta:
    """The length of a window named hour, day or week."""
    if name not in WINDOWS:
        raise InvalidInput(f"unknown window {name!r}; use one of {', '.join(WINDOWS)}.")
    return WINDOWS[name]


@dataclass(frozen=True)
class WindowQuery:
    """Which deployment's live predictions, cut how: windows of hour, day or week since a
    moment, per variant if asked."""

    project: str
    model: str
    environment: str
    window: str = "day"
    since: datetime | None = None
    by_variant: bool = False

    @property
    def size(self) -> timedelta:
        """The window's length (InvalidInput for an unknown window)."""
        return window_length(self.window)


def live_rows(
    backend: Backend,
    logs: PredictionLogs,
    project: str,
    model: str,
    environment: str,
    since: datetime | None,
) -> pd.DataFrame:
    """The live predictions of a deployment since a moment, with their outcomes."""
    backend.get_model(project, model)  # NotFound for an unknown model, before reading logs
    frame = logs.joined(project, deployment_key(model, environment), since)
    if frame.empty:
        raise InvalidInput(
            f"no predictions of {model} in {environment} are logged"
            + (f" since {since:%Y-%m-%d %H:%M}" if since else "")
            + f"; serve it with `relay serve {model}@{environment}` (prediction log on)."
        )
    frame = frame[frame["mode"] == "live"].copy()
    frame["moment"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
    return frame


def live_windows(
    backend: Backend, logs: PredictionLogs, query: WindowQuery, frame: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[tuple[datetime, str | None, pd.DataFrame]]]:
    """The query's live rows (with outcomes; or `frame`, read once by the caller for several
    figures), and the rows of each of its windows."""
    size = query.size
    if frame is None:
        frame = live_rows(backend, logs, query.project, query.model, query.environment, query.since)
    return frame, split_windows(frame, size, query.by_variant)


def split_windows(
    frame: pd.DataFrame, window: timedelta, by_variant: bool
) -> list[tuple[datetime, str | None, pd.DataFrame]]:
    """The rows of each window (aligned to UTC multiples of its length), per variant if asked."""
    seconds = int(window.total_seconds())
    starts = (frame["timestamp"] // 1000 // seconds) * seconds
    keys: list[Any] = [starts, frame["variant"]] if by_variant else [starts]
    out = []
    for key, rows in frame.groupby(keys, sort=True):
        parts = key if isinstance(key, tuple) else (key,)
        start = datetime.fromtimestamp(int(parts[0]), tz=UTC)
        out.append((start, str(parts[1]) if by_variant else None, rows))
    return out


def reference_for(
    backend: Backend, project: str, version: ModelVersion, dataset: str | None = None
) -> tuple[pd.DataFrame, str]:
    """The reference rows (the model's input columns) and the dataset reference they came from."""
    from relayml.data.sources import load_dataset

    chosen = dataset or next(iter(version.details.get("datasets") or []), None)
    if chosen is None:
        raise InvalidInput(
            f"{version.model}/{version.version} was logged without its training dataset, so there "
            "is no default reference; name one with --reference customers@3 (or log the model "
            "with datasets=[...])."
        )
    frame = load_dataset(backend, project, chosen)
    columns = [c.name for c in version.signature.inputs]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"the reference {chosen} lacks the model's inputs {', '.join(missing)}; choose a "
            "dataset version with the columns the model takes."
        )
    return frame[columns], chosen


def _prediction_column(frame: pd.DataFrame) -> pd.Series:
    if "score" in frame.columns and frame["score"].notna().any():
        return frame["score"].astype(np.float64)
    return frame["prediction"]


def reference_with_predictions(
    backend: Backend, project: str, model: str, version_number: int, reference: str | None
) -> tuple[pd.DataFrame, str, list[str]]:
    """The reference rows with the model's own answers on them, its name, the input columns."""
    from relayml.models.publish import load_model

    version = backend.get_model_version(project, f"{model}/{version_number}")
    ref, ref_name = reference_for(backend, project, version, reference)
    predictor = load_model(backend, project, f"{model}/{version_number}")
    ref = ref.copy()
    if predictor.has_proba and len(predictor.signature.classes or []) == 2:
        ref["prediction"] = predictor.predict_proba(ref)[:, 1]
    else:
        ref["prediction"] = predictor.predict(ref)
    return ref, ref_name, [c.name for c in version.signature.inputs]


def drift_of_rows(
    ref: pd.DataFrame, rows: pd.DataFrame, inputs: list[str], config: DriftConfig | None
) -> DriftReport:
    """The drift of some live rows against the reference (with the model's answers on it)."""
    current = pd.DataFrame({c: rows[_INPUT + c].to_numpy() for c in inputs if _INPUT + c in rows})
    current["prediction"] = _prediction_column(rows).to_numpy()
    return drift_report(ref, current, columns=inputs, prediction="prediction", config=config)


def drift_of_frame(
    backend: Backend,
    project: str,
    model: str,
    frame: pd.DataFrame,
    *,
    reference: str | None = None,
    config: DriftConfig | None = None,
    environment: str | None = None,
) -> tuple[str, DriftReport]:
    """One drift report over the given live rows, against the reference of the version that
    holds the environment when it answered any of them (a canary's or an A/B challenger's rows
    are then compared with what production was trained on, whichever variant answered last),
    else of the version that answered the newest row."""
    version_number = int(frame["version"].iloc[-1])
    holder = backend.get_model(project, model).aliases.get(environment) if environment else None
    if holder is not None and bool((frame["version"] == holder).any()):
        version_number = int(holder)
    ref, ref_name, inputs = reference_with_predictions(
        backend, project, model, version_number, reference
    )
    return ref_name, drift_of_rows(ref, frame, inputs, config)


def drift_by_window(
    backend: Backend,
    logs: PredictionLogs,
    query: WindowQuery,
    *,
    reference: str | None = None,
    config: DriftConfig | None = None,
    frame: pd.DataFrame | None = None,
) -> tuple[str, list[DriftWindow]]:
    """Drift of every window (per variant if asked) against the reference; (reference, windows)."""
    size = query.size
    frame, parts = live_windows(backend, logs, query, frame)
    ref, ref_name, inputs = reference_with_predictions(
        backend, query.project, query.model, int(frame["version"].iloc[-1]), reference
    )
    windows = []
    for start, variant, rows in parts:
        report = drift_of_rows(ref, rows, inputs, config)
        windows.append(DriftWindow(start, start + size, variant, len(rows), report))
    return ref_name, windows


def _estimated_accuracy(rows: pd.DataFrame) -> float | None:
    if "probabilities" in rows.columns and rows["probabilities"].notna().all():
        lists = rows["probabilities"].to_numpy()
        if not len(lists):
            return None
        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        flat = np.concatenate(lists).astype(np.float64) if lengths.min() > 0 else None
        if flat is not None and not np.isnan(flat).any():  # vectorised; NaN: max() as it was
            best = np.maximum.reduceat(flat, np.cumsum(lengths) - lengths)
        else:
            best = np.array([max(p) for p in lists], dtype=np.float64)
        return float(best.mean()) if best.size else None
    return None


def performance_of_rows(
    start: datetime, size: timedelta, variant: str | None, rows: pd.DataFrame, classification: bool
) -> PerformanceWindow:
    """One window's metrics on the rows with outcomes, and the estimate over all its rows."""
    known = rows[rows["outcome"].notna()]
    result = PerformanceWindow(start, start + size, variant, len(rows), len(known))
    if classification:
        if len(known):
            predicted = np.array(canonical_labels(known["prediction"].to_numpy()), dtype=object)
            result.metrics["accuracy"] = float((predicted == known["outcome"].to_numpy()).mean())
        estimate = _estimated_accuracy(rows)
        if estimate is not None:
            result.estimated["accuracy"] = estimate
    elif len(known):
        error = known["prediction"].astype(np.float64) - known["outcome_value"]
        result.metrics["mae"] = float(np.abs(error).mean())
        result.metrics["rmse"] = float(np.sqrt((error**2).mean()))
    return result


def performance_by_window(
    backend: Backend, logs: PredictionLogs, query: WindowQuery, frame: pd.DataFrame | None = None
) -> list[PerformanceWindow]:
    """Per window: metrics on the rows with outcomes, and an estimate over all rows."""
    size = query.size
    frame, parts = live_windows(backend, logs, query, frame)
    ref = f"{query.model}/{int(frame['version'].iloc[-1])}"
    version = backend.get_model_version(query.project, ref)
    classification = version.signature.task == "classification"
    return [
        performance_of_rows(start, size, variant, rows, classification)
        for start, variant, rows in parts
    ]
