"""Compact the logs' closed days: one file per partition and day instead of one per flush.

A model server writes a file per flush interval and partition (86,400 a day at 1 s); readers of
a day that is over are faster on one file. Today is never touched (servers still write to it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from relayml.config import Settings
from relayml.serving.log_reader import compact
from relayml.serving.paths import log_urls, requests_url
from relayml.serving.prediction_log import _join, _open_fs

__all__ = ["compact_closed_days"]


def _day_folders(fs: Any, root: str, project: str | None) -> list[tuple[str, str]]:
    """(partition, day) of every date= folder under root (only the project's, if given)."""
    base = _join(root, f"project={project}") if project else root
    try:
        folders = [
            p for p in fs.find(base, withdirs=True) if p.rsplit("/", 1)[-1].startswith("date=")
        ]
    except FileNotFoundError:
        return []
    found = []
    for folder in folders:
        relative = folder[len(root) :].strip("/")
        partition, _, day = relative.rpartition("/date=")
        found.append((partition, day))
    return sorted(set(found))


def compact_closed_days(
    settings: Settings, project: str | None = None, *, today: date | None = None
) -> list[dict[str, Any]]:
    """Compact every day before today of the prediction, outcome and request logs."""
    current = (today or datetime.now(UTC).date()).isoformat()
    options = settings.artifacts_options or None
    done = []
    predictions, outcomes = log_urls(settings)
    for name, url in (
        ("predictions", predictions),
        ("outcomes", outcomes),
        ("requests", requests_url(settings)),
    ):
        fs, root, _local = _open_fs(url, options)
        for partition, day in _day_folders(fs, root, project):
            if day >= current:
                continue
            merged = compact(url, partition, day, options=options)
            if merged:
                done.append({"log": name, "partition": partition, "day": day, "files": merged})
    return done
