"""The prediction logs: Parquet files of predictions, outcomes and requests, by deployment and day.

The stores layer's owner of the logs' layout (``layout``), writing (``writer``), reading
(``reader``), compaction (``compaction``) and outcomes (``outcomes``). Services hold one
``PredictionLogs`` handle, as they hold the metadata store and the blob store.
"""

from __future__ import annotations

from relayml.predictions.compaction import compact
from relayml.predictions.labels import canonical_label, canonical_labels
from relayml.predictions.logs import LogOptions, PredictionLogs
from relayml.predictions.outcomes import check_outcomes, outcome_columns, plain_list
from relayml.predictions.reader import read_log
from relayml.predictions.writer import ParquetLog

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
