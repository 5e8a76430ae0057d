"""Drift per window on a Dask cluster, for windows bigger than one machine's memory.

The prediction log's Parquet files are read by the workers (only the input columns, the
prediction's column, the timestamp and the variant); each window is summarised partition by
partition (`drift_report_dask`, 10,000 quantile bins for numeric columns) and only the summaries
travel back. The reference stays in memory here (a model's training data). Results match the
in-memory report up to the binning of KS and Wasserstein scores.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from relayml.domain.drift_results import DriftConfig
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput, SchedulerUnavailable
from relayml.monitoring.drift_reports import drift_report_dask
from relayml.monitoring.windows import DriftWindow, WindowQuery, reference_with_predictions
from relayml.predictions import PredictionLogs
from relayml.predictions.layout import deployment_key

__all__ = ["drift_by_window_on_dask"]


def _client(executor: str) -> Any:
    """A client of the scheduler; SchedulerUnavailable after Dask's connect timeout (30 s by
    default: `distributed.comm.timeouts.connect`, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT)."""
    if not executor.startswith("dask://"):
        raise InvalidInput(f"{executor!r} is not a Dask scheduler; write dask://host:8786.")
    import dask.config
    from distributed import Client

    address = executor.replace("dask://", "tcp://", 1)
    try:
        return Client(address)  # type: ignore[no-untyped-call]  # the default: compute() runs there
    except (OSError, TimeoutError) as exc:
        waited = dask.config.get("distributed.comm.timeouts.connect")
        raise SchedulerUnavailable(
            f"the Dask scheduler at {executor} could not be reached (waited {waited}). Check "
            "the address given to --executor and that the scheduler runs (`dask scheduler`); "
            "Dask's own setting DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT sets how long to wait."
        ) from exc


def drift_by_window_on_dask(
    backend: Backend,
    logs: PredictionLogs,
    query: WindowQuery,
    executor: str,
    *,
    reference: str | None = None,
    config: DriftConfig | None = None,
) -> tuple[str, list[DriftWindow]]:
    """Like drift_by_window, with the current windows read and summarised on a Dask cluster."""
    import dask.dataframe as dd

    project, model, environment = query.project, query.model, query.environment
    since, by_variant = query.since, query.by_variant
    size = query.size
    seconds = int(size.total_seconds())
    backend.get_model(project, model)
    url = logs.deployment_url("predictions", project, deployment_key(model, environment))
    with _client(executor):
        try:
            head = dd.read_parquet(url, columns=["version"], storage_options=logs.storage)
            version = int(head["version"].max().compute())
        except (FileNotFoundError, OSError, ValueError, IndexError):
            raise InvalidInput(
                f"no predictions of {model} in {environment} are logged; serve it with "
                f"`relay serve {model}@{environment}` (prediction log on)."
            ) from None
        ref, ref_name, inputs = reference_with_predictions(
            backend, project, model, version, reference
        )
        scored = "score" if ref["prediction"].dtype.kind == "f" else "prediction"
        wanted = ["timestamp", "mode", "variant", scored, *(f"input.{c}" for c in inputs)]
        filters: list[Any] = [("mode", "==", "live")]
        if since is not None:
            filters.append(("timestamp", ">=", int(since.timestamp() * 1000)))
        frame = dd.read_parquet(
            url,
            columns=wanted,
            filters=filters,
            storage_options=logs.storage,
        )
        frame = frame.rename(columns={f"input.{c}": c for c in inputs} | {scored: "prediction"})
        frame["window"] = frame["timestamp"] // 1000 // seconds
        keys = ["window", "variant"] if by_variant else ["window"]
        groups = frame[keys].drop_duplicates().compute().sort_values(keys)
        windows = []
        for row in groups.itertuples(index=False):
            part = frame[frame["window"] == row.window]
            if by_variant:
                part = part[part["variant"] == row.variant]
            current = part[[*inputs, "prediction"]]
            report = drift_report_dask(
                ref, current, columns=inputs, prediction="prediction", config=config
            )
            start = datetime.fromtimestamp(int(row.window) * seconds, tz=UTC)
            variant = str(row.variant) if by_variant else None
            windows.append(DriftWindow(start, start + size, variant, report.current_rows, report))
    return ref_name, windows
