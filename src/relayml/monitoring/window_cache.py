"""Monitoring figures per window, each closed window's figures computed once and kept.

`drift_by_window`, `performance_by_window` and `kpis_by_window` recompute every window from the
raw prediction log on each call. `WindowFigures` gives the same answers (same rows, same code per
window, so the same numbers) but keeps the figures of each *closed* window that lies wholly in the
span, in one small JSON document per deployment and window length under the logs' root
(``_window_cache/project=<p>/deployment=<d>/<window>.json``; the logs' readers never look there).
A view then reads the raw rows of the open window (and the partial first one) only.

A kept window's figures are used only while everything that fed them is unchanged:
- its rows: the names and sizes of the log files of the days it overlaps (a late row, a new file
  or a compaction of those days changes them);
- drift: the reference (the newest live row's version, the reference's name and content, the
  config);
- performance and KPIs: the outcomes that can join its rows (the last outcome per prediction id,
  since the span's start, whose id lies between the window's smallest and largest prediction id),
  the newest version's task and classes, and the project's KPIs.
Anything else changed means the window is recomputed from the log and kept again.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from relayml.domain.drift_results import DriftConfig
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput
from relayml.monitoring.kpis import KpiWindow, kpis_of_rows
from relayml.monitoring.outcome_join import id_range, joined, last_outcomes
from relayml.monitoring.window_records import CODECS, digest, frame_digest, plain
from relayml.monitoring.windows import (
    DriftWindow,
    PerformanceWindow,
    WindowQuery,
    drift_of_rows,
    performance_of_rows,
    reference_with_predictions,
    split_windows,
)
from relayml.predictions import PredictionLogs
from relayml.predictions._files import join, open_fs
from relayml.predictions.layout import DAY_KEY, deployment_key, deployment_partition

__all__ = ["CACHE_FOLDER", "WindowFigures"]
_log = logging.getLogger(__name__)

CACHE_FOLDER = "_window_cache"
_DAY = timedelta(days=1)
_MS = timedelta(milliseconds=1)


def _day_start(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


# ---------------------------------------------------------------- the figures


class WindowFigures:
    """Drift, performance and KPIs per window of one query, reading the log once per window and
    keeping each closed window's figures (see the module's docstring)."""

    def __init__(
        self,
        backend: Backend,
        logs: PredictionLogs,
        query: WindowQuery,
        *,
        now: datetime | None = None,
        keep: bool = True,
        name: str | None = None,
    ) -> None:
        self.backend, self.logs, self.query = backend, logs, query
        self.size = query.size
        self.now = now or datetime.now(UTC)
        self.keep = keep
        self.deployment = deployment_key(query.model, query.environment)
        self._rows: dict[datetime, pd.DataFrame] = {}
        self._live_rows: dict[datetime, pd.DataFrame] = {}
        self._digests: dict[tuple[str, str], str] = {}
        self._sorted: tuple[np.ndarray, pd.DataFrame] | None = None
        self._version: int | None = None
        self._last: tuple[pd.DataFrame | None] | None = None
        self._checked = False
        fs, root, local = open_fs(logs.root, logs.storage)
        self._fs, self._local = fs, local
        name = name or query.window + ("-by-variant" if query.by_variant else "")
        self._doc_path = join(
            root, CACHE_FOLDER, deployment_partition(query.project, self.deployment), f"{name}.json"
        )
        self._doc: dict[str, Any] | None = None
        self._changed = False
        self._days = self._list_days()

    # ------------------------------------------------------------ the log's files and windows

    def _list_days(self) -> dict[str, list[tuple[str, int]]]:
        """Each UTC day folder of the deployment in the span: its files' names and sizes."""
        fs, root, _ = open_fs(self.logs.url("predictions"), self.logs.storage)
        base = join(root, deployment_partition(self.query.project, self.deployment))
        try:
            found = fs.find(base, detail=True)
        except FileNotFoundError:
            return {}
        low = self.query.since.astimezone(UTC).date().isoformat() if self.query.since else ""
        days: dict[str, list[tuple[str, int]]] = {}
        for path, info in found.items():
            relative = path[len(base) :].strip("/")
            folder, _, name = relative.rpartition("/")
            if not folder.startswith(DAY_KEY + "=") or not name.endswith(".parquet"):
                continue
            if name.startswith((".", "_")):
                continue
            day = folder[len(DAY_KEY) + 1 :]
            if day >= low:
                days.setdefault(day, []).append((name, int(info.get("size") or 0)))
        return {day: sorted(files) for day, files in sorted(days.items())}

    def _windows(self) -> list[datetime]:
        """The starts of the windows that may hold rows of the span, oldest first."""
        seconds = int(self.size.total_seconds())
        since = self.query.since
        starts: set[int] = set()
        for day in self._days:
            first = _day_start(day)
            low = max(first, since) if since else first
            stamp = int(low.timestamp()) // seconds * seconds
            while stamp < int((first + _DAY).timestamp()):
                starts.add(stamp)
                stamp += seconds
        return [datetime.fromtimestamp(s, UTC) for s in sorted(starts)]

    def _closed(self, start: datetime) -> bool:
        """Whether a window's rows are all in the span and its time is over."""
        since = self.query.since
        return (since is None or start >= since) and start + self.size <= self.now

    def _files_of(self, start: datetime) -> str:
        end = start + self.size
        days = [d for d in self._days if start < _day_start(d) + _DAY and _day_start(d) < end]
        return digest([(d, self._days[d]) for d in days])

    # ------------------------------------------------------------ rows

    def _outcomes(self) -> pd.DataFrame | None:
        if self._last is None:
            self._last = (last_outcomes(self.logs, self.query.project, self.query.since),)
        return self._last[0]

    def rows(self, start: datetime) -> pd.DataFrame:
        """The live rows of one window (with outcomes), as live_rows gives them."""
        if start not in self._rows:
            since = self.query.since
            low = max(start, since) if since else start
            table = self.logs.read(
                "predictions",
                self.query.project,
                self.deployment,
                start=low,
                end=start + self.size - _MS,
            )
            frame = joined(table.to_pandas(), self._outcomes())
            self._rows[start] = frame
        return self._rows[start]

    def _live(self, start: datetime) -> pd.DataFrame:
        if start not in self._live_rows:
            frame = self.rows(start)
            if not frame.empty:
                frame = frame[frame["mode"] == "live"].copy()
                frame["moment"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
            self._live_rows[start] = frame
        return self._live_rows[start]

    def _window_of_day(self, day: str) -> datetime | None:
        """The window that holds a whole day, if one does (day and week windows)."""
        seconds = int(self.size.total_seconds())
        first = _day_start(day)
        start = datetime.fromtimestamp(int(first.timestamp()) // seconds * seconds, UTC)
        return start if start + self.size >= first + _DAY else None

    def version(self) -> int:
        """The version of the span's newest live row (in the log's order), as the uncached path
        takes it; InvalidInput when the span has no predictions."""
        if self._version is not None:
            return self._version
        self.backend.get_model(self.query.project, self.query.model)
        since, any_rows = self.query.since, False
        newest = list(self._days)[-1] if self._days else None
        holder = self._window_of_day(newest) if newest else None
        if holder is not None:  # the newest day lies in one window, read for the figures anyway
            frame = self.rows(holder)
            live = frame[frame["mode"] == "live"] if not frame.empty else frame
            if len(live):
                self._version = int(live["version"].iloc[-1])
                return self._version
        for day in reversed(list(self._days)):
            first = _day_start(day)
            table = self.logs.read(
                "predictions",
                self.query.project,
                self.deployment,
                start=max(first, since) if since else first,
                end=first + _DAY - _MS,
                columns=["version", "mode"],
            )
            any_rows = any_rows or table.num_rows > 0
            modes = table.column("mode").to_pylist()
            live = [i for i, m in enumerate(modes) if m == "live"]
            if live:
                self._version = int(table.column("version")[live[-1]].as_py())
                return self._version
        q = self.query
        if any_rows:
            raise InvalidInput(
                f"no live predictions of {q.model} in {q.environment} are logged"
                + (f" since {since:%Y-%m-%d %H:%M}" if since else "")
                + "; only shadows answered."
            )
        raise InvalidInput(
            f"no predictions of {q.model} in {q.environment} are logged"
            + (f" since {since:%Y-%m-%d %H:%M}" if since else "")
            + f"; serve it with `relay serve {q.model}@{q.environment}` (prediction log on)."
        )

    # ------------------------------------------------------------ the kept figures

    def _load(self) -> dict[str, Any]:
        if self._doc is None:
            self._doc = {}
            if self.keep:
                try:
                    with self._fs.open(self._doc_path, "rb") as fh:
                        found = json.loads(fh.read())
                    if isinstance(found, dict) and found.get("format") == 1:
                        self._doc = found
                except (FileNotFoundError, ValueError, OSError):
                    self._doc = {}
            self._doc.setdefault("format", 1)
            self._doc.setdefault("windows", {})
        return self._doc

    def save(self) -> None:
        """Write the kept figures if any window was computed, without the windows that left the
        span (last writer wins; a lost write only means a window is computed again)."""
        if not self.keep or self._doc is None:
            return
        if self.query.since is not None:  # windows that left the span are not kept
            oldest = self.query.since.timestamp()
            windows = self._doc["windows"]
            kept = {k: v for k, v in windows.items() if int(k) >= oldest}
            self._changed = self._changed or len(kept) < len(windows)
            self._doc["windows"] = kept
        if not self._changed:
            return
        data = json.dumps(self._doc, default=plain, separators=(",", ":")).encode()
        try:
            self._write(data)
        except OSError as exc:  # a read-only or unreachable store: the view still answers
            _log.warning("kept window figures not saved to %s: %s", self._doc_path, exc)
            return
        self._changed = False

    def _write(self, data: bytes) -> None:
        folder = self._doc_path.rsplit("/", 1)[0]
        if not self._local:
            self._fs.pipe_file(self._doc_path, data)
            return
        os.makedirs(folder, exist_ok=True)
        tmp = f"{folder}/.{secrets.token_hex(4)}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self._doc_path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _entry(self, start: datetime) -> dict[str, Any] | None:
        """The kept entry of a closed window whose files did not change (else a fresh one)."""
        if not self._closed(start):
            return None
        windows = self._load()["windows"]
        key = str(int(start.timestamp()))
        files = self._files_of(start)
        entry = windows.get(key)
        if not isinstance(entry, dict) or entry.get("files") != files:
            entry = {"files": files, **self._fresh_entry(start)}
            windows[key] = entry
            self._changed = True
        return entry

    def _fresh_entry(self, start: datetime) -> dict[str, Any]:
        """What a closed window's entry starts with (subclasses keep other rows' facts)."""
        live = self._live(start)
        return {"live": len(live), "ids": id_range(live)}

    def _outcome_digest(self, entry: dict[str, Any]) -> str:
        last = self._outcomes()
        if last is None or entry["ids"] is None:
            return "none"
        low, high = str(entry["ids"][0]), str(entry["ids"][1])
        if (low, high) not in self._digests:
            if self._sorted is None:
                ordered = last.assign(prediction_id=last["prediction_id"].astype(str))
                ordered = ordered.sort_values("prediction_id", kind="stable")
                self._sorted = (ordered["prediction_id"].to_numpy(dtype=object), ordered)
            ids, ordered = self._sorted
            a, b = np.searchsorted(ids, low, "left"), np.searchsorted(ids, high, "right")
            self._digests[(low, high)] = frame_digest(ordered.iloc[a:b])
        return self._digests[(low, high)]

    def _figures(
        self, kind: str, depends: str, compute: Callable[[pd.DataFrame, datetime], list[Any]],
        outcomes: bool, last_only: bool = False,
    ) -> list[Any]:  # fmt: skip
        dump, load = CODECS[kind]
        out: list[Any] = []
        starts = self._windows()
        for start in reversed(starts) if last_only else starts:
            entry = self._entry(start)
            if entry is not None and entry["live"] == 0:
                continue
            key = depends + (":" + self._outcome_digest(entry) if outcomes and entry else "")
            kept = entry.get(kind) if entry is not None else None
            if isinstance(kept, dict) and kept.get("key") == key:
                found = [load(start, self.size, d) for d in kept["value"]]
            else:
                live = self._live(start)
                found = compute(live, start) if len(live) else []
                if entry is not None:
                    entry[kind] = {"key": key, "value": [dump(w) for w in found]}
                    self._changed = True
            out.extend(found)
            if last_only and found:
                return out
        return out

    def _parts(self, frame: pd.DataFrame) -> list[tuple[datetime, str | None, pd.DataFrame]]:
        return split_windows(frame, self.size, self.query.by_variant)

    # ------------------------------------------------------------ the three figures

    def drift(
        self, *, reference: str | None = None, config: DriftConfig | None = None
    ) -> tuple[str, list[DriftWindow]]:
        """As drift_by_window: (the reference's name, each window's drift)."""
        version = self.version()
        q = self.query
        ref, ref_name, inputs = reference_with_predictions(
            self.backend, q.project, q.model, version, reference
        )
        depends = digest("drift", version, ref_name, frame_digest(ref), inputs, repr(config))

        def compute(live: pd.DataFrame, start: datetime) -> list[DriftWindow]:
            return [
                DriftWindow(s, s + self.size, variant, len(rows),
                            drift_of_rows(ref, rows, inputs, config))
                for s, variant, rows in self._parts(live)
            ]  # fmt: skip

        return ref_name, self._figures("drift", depends, compute, outcomes=False)

    def _signature(self) -> Any:
        q = self.query
        return self.backend.get_model_version(q.project, f"{q.model}/{self.version()}").signature

    def performance(self) -> list[PerformanceWindow]:
        """As performance_by_window: each window's metrics and estimates."""
        classification = self._signature().task == "classification"
        depends = digest("performance", classification)

        def compute(live: pd.DataFrame, start: datetime) -> list[PerformanceWindow]:
            return [
                performance_of_rows(s, self.size, variant, rows, classification)
                for s, variant, rows in self._parts(live)
            ]

        return self._figures("performance", depends, compute, outcomes=True)

    def kpis(self, *, last_only: bool = False) -> list[KpiWindow]:
        """As kpis_by_window (or, last_only, the figures of its newest window only: that list's
        last item is kpis_by_window's last)."""
        signature = self._signature()
        kpis = list(self.backend.get_project(self.query.project).kpis)
        depends = digest("kpis", repr(kpis), repr(signature))

        def compute(live: pd.DataFrame, start: datetime) -> list[KpiWindow]:
            out = []
            for s, variant, rows in self._parts(live):
                outcomes = int(rows["outcome"].notna().sum())
                figures = kpis_of_rows(kpis, rows, signature)
                out.append(KpiWindow(s, s + self.size, variant, len(rows), outcomes, figures))
            return out

        return self._figures("kpis", depends, compute, outcomes=True, last_only=last_only)
