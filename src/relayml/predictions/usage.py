"""What the logs hold on storage, per log and deployment, read from listings and Parquet footers.

No row data is read: sizes come from the file listing, row counts from each file's footer, the
day from the ``date=`` folder. Files a compaction already merged count for their bytes (they are
still on disk) but not for their rows (the compacted file holds them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from relayml.predictions._files import arrow_fs, join, open_fs, superseded
from relayml.predictions.layout import DAY_KEY, LOGS, project_partition

if TYPE_CHECKING:
    from relayml.predictions.logs import PredictionLogs

__all__ = ["LogUsage", "log_usage"]


@dataclass
class LogUsage:
    """One log of one deployment (outcomes: of the project, deployment ''): files, bytes, rows."""

    log: str
    deployment: str
    files: int = 0
    bytes: int = 0
    rows: int = 0
    by_day: dict[str, list[int]] = field(default_factory=dict)  # day -> [bytes, rows]


def _visible(path: str, base: str) -> bool:
    rest = path[len(base) :].split("/")
    return path.endswith(".parquet") and not any(s.startswith((".", "_")) for s in rest)


def log_usage(logs: PredictionLogs, project: str) -> list[LogUsage]:
    """Per log and deployment of a project: files, bytes and rows, in total and per day."""
    found: dict[tuple[str, str], LogUsage] = {}
    for log in LOGS:
        fs, root, local = open_fs(logs.url(log), logs.storage)
        base = join(root, project_partition(project))
        try:
            listing: dict[str, Any] = fs.find(base, detail=True)
        except FileNotFoundError:
            continue
        files = {p: info for p, info in listing.items() if _visible(p, base)}
        if not files:
            continue
        filesystem = arrow_fs(fs, local)
        footers = {p: pq.read_metadata(p, filesystem=filesystem) for p in sorted(files)}
        stale = superseded([(p, m.metadata) for p, m in footers.items()])
        per_day: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for path, meta in footers.items():
            keys = dict(
                s.split("=", 1) for s in path[len(base) :].strip("/").split("/")[:-1] if "=" in s
            )
            deployment = keys.get("deployment", "")
            usage = found.setdefault((log, deployment), LogUsage(log, deployment))
            size = int(files[path].get("size") or 0)
            rows = 0 if path in stale else int(meta.num_rows)
            usage.files += 1
            usage.bytes += size
            usage.rows += rows
            tally = per_day[(deployment, keys.get(DAY_KEY, ""))]
            tally[0] += size
            tally[1] += rows
        for (deployment, day), tally in per_day.items():
            found[(log, deployment)].by_day[day] = tally
    return [found[k] for k in sorted(found)]
