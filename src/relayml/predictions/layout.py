"""Where rows live: the logs' folders and hive-style partitions (the one owner of the layout).

``<root>/<log>/project=<project>[/deployment=<deployment>]/date=YYYY-MM-DD/<file>.parquet``

The logs are ``predictions`` and ``requests`` (partitioned by project and deployment) and
``outcomes`` (by project only: an outcome names a prediction id, not a deployment). The day is the
UTC day of each row's ``timestamp`` (int64 ms since the epoch).
"""

from __future__ import annotations

from datetime import date, timedelta

from relayml.errors import InvalidInput

__all__ = [
    "DAY_KEY",
    "LOGS",
    "check_partition",
    "day_folder",
    "day_of",
    "deployment_key",
    "deployment_partition",
    "project_partition",
    "split_day_folder",
]

LOGS = ("predictions", "outcomes", "requests")
DAY_KEY = "date"


def project_partition(project: str) -> str:
    """The partition of a project's rows: project=<project>."""
    return f"project={project}"


def deployment_key(model: str, environment: str) -> str:
    """A deployment's name in the logs: churn-production (as Deployment.key)."""
    return f"{model}-{environment}"


def deployment_partition(project: str, deployment: str) -> str:
    """The partition of one deployment's rows (deployment is '<model>-<environment>')."""
    return f"{project_partition(project)}/deployment={deployment}"


def day_folder(partition: str, day: str) -> str:
    """The folder of a partition's rows of one UTC day (day as YYYY-MM-DD)."""
    return f"{partition}/{DAY_KEY}={day}" if partition else f"{DAY_KEY}={day}"


def split_day_folder(relative: str) -> tuple[str, str] | None:
    """(partition, day) of a folder path relative to a log's root, or None if not a day folder."""
    partition, sep, day = relative.rpartition(f"{DAY_KEY}=")
    if not sep or "/" in day or (partition and not partition.endswith("/")):
        return None
    return partition.rstrip("/"), day


def day_of(days_since_epoch: int) -> str:
    """The UTC day (YYYY-MM-DD) a number of days after 1970-01-01."""
    return (date(1970, 1, 1) + timedelta(days=int(days_since_epoch))).isoformat()


def check_partition(partition: str) -> str:
    """The partition normalised (no empty segments); InvalidInput unless it is key=value folders."""
    segments = [s for s in partition.split("/") if s]
    for segment in segments:
        key, sep, value = segment.partition("=")
        if not sep or not key or not value or segment[0] in "._" or key == DAY_KEY:
            raise InvalidInput(
                f"Partition {partition!r} is not valid: use a relative path of key=value folders "
                f"such as {deployment_partition('churn', 'churn-production')!r} "
                f"(no '{DAY_KEY}=', the log adds it)."
            )
    return "/".join(segments)
