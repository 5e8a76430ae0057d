"""What the runs pages compute for display: columns, sort links, chart data, parallel coordinates.

No I/O here: the page modules read the store (bounded) and hand the results to these helpers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from relayml.domain._search_lexer import WORD_RE
from relayml.domain.entities import Run
from relayml.tracking.series import MetricSeries

__all__ = [
    "ATTRIBUTES",
    "Column",
    "chart_data",
    "differing",
    "order_field",
    "parallel_coordinates",
    "parse_columns",
    "query_string",
]

# The attribute columns always shown (label, order-by field).
ATTRIBUTES = [
    ("Name", "name"),
    ("Experiment", "experiment"),
    ("Status", "status"),
    ("User", "user"),
    ("Started", "start_time"),
    ("Duration", "duration"),
]
MAX_COLUMNS = 24  # chosen param and metric columns at most
AUTO_COLUMNS = 6  # of each kind, when none are chosen


@dataclass(frozen=True)
class Column:
    """A chosen param or metric column: kind ('params' or 'metrics') and key."""

    kind: str
    key: str

    @property
    def spec(self) -> str:
        """How the column is written in the query string: params.lr, metrics.auc."""
        return f"{self.kind}.{self.key}"

    def value(self, run: Run) -> Any:
        """The run's value in this column (None if it has none)."""
        return (run.params if self.kind == "params" else run.metrics).get(self.key)


def parse_columns(text: str) -> list[Column]:
    """Columns from 'params.lr,metrics.auc' (unknown prefixes dropped, at most MAX_COLUMNS)."""
    out: list[Column] = []
    for item in text.split(","):
        kind, _, key = item.strip().partition(".")
        if kind in ("params", "metrics") and key and Column(kind, key) not in out:
            out.append(Column(kind, key))
    return out[:MAX_COLUMNS]


def auto_columns(runs: Sequence[Run]) -> list[Column]:
    """The first few param and metric keys of the runs shown (when the viewer chose none)."""
    params: dict[str, None] = {}
    metrics: dict[str, None] = {}
    for run in runs:
        params.update(dict.fromkeys(run.params))
        metrics.update(dict.fromkeys(run.metrics))
    return [Column("metrics", k) for k in sorted(metrics)[:AUTO_COLUMNS]] + [
        Column("params", k) for k in sorted(params)[:AUTO_COLUMNS]
    ]


def known_columns(runs: Sequence[Run], chosen: Iterable[Column]) -> list[Column]:
    """The columns one may choose: the keys of the runs on this page, and those chosen."""
    found = {Column("params", k) for r in runs for k in r.params}
    found |= {Column("metrics", k) for r in runs for k in r.metrics}
    found |= set(chosen)
    return sorted(found, key=lambda c: (c.kind != "metrics", c.key))[:200]


def order_field(kind: str, key: str) -> str:
    """An order-by field for the grammar, back-quoted when the key needs it."""
    if kind == "attribute":
        return key
    text = f"{kind}.{key}"
    return text if WORD_RE.fullmatch(text) else "`" + text.replace("`", "") + "`"


def query_string(base: dict[str, str], **changes: str | None) -> str:
    """The page's query string with some values changed (None or '' removes one)."""
    merged = {**base, **changes}
    return urlencode({k: v for k, v in merged.items() if v})


def differing(runs: Sequence[Run], kind: str) -> list[tuple[str, list[Any], bool]]:
    """(key, each run's value, values differ?) for the union of params or metrics keys."""
    keys = sorted({k for r in runs for k in getattr(r, kind)})
    rows = []
    for key in keys:
        values = [getattr(r, kind).get(key) for r in runs]
        rows.append((key, values, len({repr(v) for v in values}) > 1))
    return rows


def chart_data(series: MetricSeries, labels: dict[str, str]) -> dict[str, Any]:
    """uPlot's data for one metric: the shared x and one line per run."""
    xs, values = series.aligned()
    return {
        "x": [x / 1000 for x in xs] if series.by_time else xs,
        "x_time": series.by_time,
        "series": [
            {"label": labels.get(run_id, run_id[:8]), "values": row}
            for run_id, row in values.items()
        ],
    }


def _as_number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass
class Axis:
    """One vertical axis of the parallel-coordinates plot."""

    label: str
    x: float
    ticks: list[tuple[float, str]]
    place: dict[str, float]  # run id -> y


def _axis(label: str, values: dict[str, Any], x: float, top: float, height: float) -> Axis:
    numbers = {k: _as_number(v) for k, v in values.items() if v is not None}
    if numbers and all(n is not None for n in numbers.values()):
        got = [n for n in numbers.values() if n is not None]
        lo, hi = min(got), max(got)
        span = (hi - lo) or 1.0

        def y(n: float) -> float:
            return top + height - (n - lo) / span * height

        place = {k: y(n) for k, n in numbers.items() if n is not None}
        ticks = [(y(lo), f"{lo:.4g}"), (y(hi), f"{hi:.4g}")] if hi != lo else [(y(lo), f"{lo:.4g}")]
        return Axis(label, x, ticks, place)
    names = sorted({str(v) for v in values.values() if v is not None})
    step = height / max(1, len(names) - 1) if len(names) > 1 else 0.0
    spots = {name: top + height - i * step for i, name in enumerate(names)}
    if len(names) == 1:
        spots = {names[0]: top + height / 2}
    place = {k: spots[str(v)] for k, v in values.items() if v is not None}
    return Axis(label, x, [(y, name[:14]) for name, y in spots.items()][:12], place)


def parallel_coordinates(runs: Sequence[Run], labels: dict[str, str]) -> dict[str, Any] | None:
    """Axes and lines of a parallel-coordinates plot of the runs' params then metrics."""
    keys = [("params", k) for k in sorted({k for r in runs for k in r.params})]
    keys += [("metrics", k) for k in sorted({k for r in runs for k in r.metrics})]
    keys = keys[:16]
    if len(keys) < 2 or not runs:
        return None
    gap, top, height = 120.0, 40.0, 220.0
    axes = [
        _axis(
            key if kind == "metrics" else f"{key} (param)",
            {r.id: getattr(r, kind).get(key) for r in runs},
            60 + i * gap,
            top,
            height,
        )
        for i, (kind, key) in enumerate(keys)
    ]
    palette = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#be185d"]
    lines = []
    for i, run in enumerate(runs):
        points = [(a.x, a.place[run.id]) for a in axes if run.id in a.place]
        path = " ".join(
            f"{'M' if j == 0 else 'L'}{x:.1f} {y:.1f}" for j, (x, y) in enumerate(points)
        )
        lines.append({"d": path, "color": palette[i % len(palette)], "label": labels[run.id]})
    return {"axes": axes, "lines": lines, "width": 120 + gap * (len(axes) - 1), "height": 300}
