"""The kept window figures as JSON: the digests that say what fed a window, and each figure's
(de)serialisation (relayml.monitoring.window_cache keeps them)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from relayml.domain.drift_results import ColumnDrift, DriftReport, Histogram
from relayml.monitoring.kpis import KpiWindow
from relayml.monitoring.windows import DriftWindow, PerformanceWindow

__all__ = ["CODECS", "digest", "frame_digest", "plain"]


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:32]


def frame_digest(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame.reset_index(drop=True), index=True).to_numpy()
    return hashlib.sha256(hashed.tobytes() + repr(list(frame.columns)).encode()).hexdigest()[:32]


def plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot keep {type(value).__name__} in the window cache")


# ---------------------------------------------------------------- (de)serialising the figures


def _column_of(data: dict[str, Any]) -> ColumnDrift:
    h = data["histogram"]
    histogram = Histogram(
        tuple(h["reference"]), tuple(h["current"]), tuple(h["edges"]), tuple(h["labels"])
    )
    return ColumnDrift(**{**data, "histogram": histogram})


def _report_of(data: dict[str, Any]) -> DriftReport:
    prediction = data["prediction"]
    return DriftReport(
        columns=tuple(_column_of(c) for c in data["columns"]),
        reference_rows=data["reference_rows"],
        current_rows=data["current_rows"],
        drift_share_threshold=data["drift_share_threshold"],
        prediction=_column_of(prediction) if prediction is not None else None,
    )


def _drift_out(w: DriftWindow) -> dict[str, Any]:
    return {"variant": w.variant, "rows": w.rows, "report": asdict(w.report)}


def _drift_in(start: datetime, size: timedelta, d: dict[str, Any]) -> DriftWindow:
    return DriftWindow(start, start + size, d["variant"], d["rows"], _report_of(d["report"]))


def _performance_out(w: PerformanceWindow) -> dict[str, Any]:
    return {k: v for k, v in asdict(w).items() if k not in ("start", "end")}


def _performance_in(start: datetime, size: timedelta, d: dict[str, Any]) -> PerformanceWindow:
    return PerformanceWindow(start, start + size, **d)


def _kpis_out(w: KpiWindow) -> dict[str, Any]:
    return {k: v for k, v in asdict(w).items() if k not in ("start", "end")}


def _kpis_in(start: datetime, size: timedelta, d: dict[str, Any]) -> KpiWindow:
    return KpiWindow(start, start + size, **d)


CODECS: dict[str, tuple[Callable[[Any], dict[str, Any]], Callable[..., Any]]] = {
    "drift": (_drift_out, _drift_in),
    "performance": (_performance_out, _performance_in),
    "kpis": (_kpis_out, _kpis_in),
}
