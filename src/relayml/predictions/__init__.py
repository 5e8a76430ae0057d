"""The prediction logs: Parquet files of predictions, outcomes and requests, by deployment and day.

The stores layer's owner of the logs' layout (``layout``), writing (``writer``), reading
(``reader``), compaction (``compaction``) and outcomes (``outcomes``). Services hold one
``PredictionLogs`` handle, as they hold the metadata store and the blob store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relayml.predictions.compaction import compact
    from relayml.predictions.labels import canonical_label, canonical_labels
    from relayml.predictions.logs import LogOptions, PredictionLogs
    from relayml.predictions.outcomes import check_outcomes, outcome_columns, plain_list
    from relayml.predictions.reader import read_log
    from relayml.predictions.writer import ParquetLog

# Each name loads its module on first use: holding a PredictionLogs handle (every backend does)
# must not import pyarrow, pandas and numpy; reading or writing a log does.
_HOME = {
    "compact": "compaction",
    "canonical_label": "labels",
    "canonical_labels": "labels",
    "LogOptions": "logs",
    "PredictionLogs": "logs",
    "check_outcomes": "outcomes",
    "outcome_columns": "outcomes",
    "plain_list": "outcomes",
    "read_log": "reader",
    "ParquetLog": "writer",
}

__all__ = [
    "LogOptions",
    "ParquetLog",
    "PredictionLogs",
    "canonical_label",
    "canonical_labels",
    "check_outcomes",
    "compact",
    "outcome_columns",
    "plain_list",
    "read_log",
]


def __getattr__(name: str) -> Any:
    """The exported name from its module, imported now (PEP 562)."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
