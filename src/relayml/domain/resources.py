"""Entities of the resource overview: compute, storage and serving per project, and bottlenecks.

The ML architect's view (``relay resources``): what runs and pipeline steps cost in time and
memory, what artifacts, model files, datasets and prediction logs hold on storage, how much each
deployment serves and how fast, and a ranked list of the worst of each (no I/O here).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BOTTLENECK_KINDS", "Bottleneck", "ComputeUse", "ResourceOverview", "ServingUse",
           "StorageUse"]  # fmt: skip

_CONFIG = ConfigDict(ser_json_inf_nan="strings", frozen=True)

# The ranked lists, in the order they are shown; each is ordered worst first.
BOTTLENECK_KINDS = ("slow step", "large artifact", "high latency", "error rate", "log growth")


class ComputeUse(BaseModel):
    """Compute of the runs of a project or model, or of a pipeline's (or one step's) runs."""

    model_config = _CONFIG
    kind: Literal["project", "model", "pipeline", "step"]
    name: str = Field(description="project, model, module:function, or module:function/step")
    runs: int = Field(description="Runs (project, model) or step runs (pipeline, step) counted.")
    wall_seconds: float = Field(description="Sum of the runs' wall time (steps: duration).")
    mean_seconds: float | None = None
    longest_seconds: float | None = None
    cpu_seconds: float = 0.0
    peak_memory_mb: float | None = Field(default=None, description="The highest of any run.")


class StorageUse(BaseModel):
    """Bytes held by one kind of thing: run artifacts, a model's files, a dataset, a log."""

    model_config = _CONFIG
    kind: Literal["artifacts", "model", "dataset", "prediction log"]
    name: str = Field(description="'runs', the model, the dataset, or log/deployment")
    items: int = Field(description="Artifacts, model versions, dataset versions or log files.")
    bytes: int


class ServingUse(BaseModel):
    """One deployment's serving over the window: volume, latency, errors, log growth."""

    model_config = _CONFIG
    deployment: str = Field(description="<model>-<environment>, as in the logs")
    predictions: int = Field(description="Rows in its prediction log, all time (file footers).")
    predictions_in_window: int = Field(
        default=0, description="Rows logged on the days of the window (footers, by day folder)."
    )
    requests: int = Field(default=0, description="Prediction requests in the window.")
    errors: int = Field(default=0, description="Requests answered 4xx or 5xx in the window.")
    error_rate: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    latency_source: str = Field(default="", description="requests (the server's request log) "
                                "or predictions (per-row latency), whichever exists")  # fmt: skip
    log_bytes: int = 0
    log_bytes_per_day: float = Field(default=0.0, description="Bytes written per day, window.")


class Bottleneck(BaseModel):
    """One entry of a ranked list: what, how bad, in which unit."""

    model_config = _CONFIG
    kind: str = Field(description=", ".join(BOTTLENECK_KINDS))
    rank: int
    subject: str
    value: float
    unit: str
    detail: str = ""


class ResourceOverview(BaseModel):
    """What a project's runs, pipelines, storage and deployments use, and the bottlenecks."""

    model_config = _CONFIG
    project: str
    since: datetime = Field(description="Start of the window of serving figures and log growth.")
    days: int
    compute: list[ComputeUse] = Field(default_factory=list)
    storage: list[StorageUse] = Field(default_factory=list)
    serving: list[ServingUse] = Field(default_factory=list)
    bottlenecks: list[Bottleneck] = Field(default_factory=list)
