"""The runs of the SDK: a run being logged to, and the shortcuts that act on the active one.

with relay.start_run(experiment="baseline") as run:
    run.log_params({"max_depth": 3})
    run.log_metrics({"auc": 0.91}, step=1)
relay.log_metric("loss", 0.2)        # on the active run
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from relayml.domain.clock import now_ms
from relayml.domain.entities import Artifact, Run, RunStatus
from relayml.domain.models import ModelVersion
from relayml.domain.ports import Backend, MetricRow
from relayml.domain.validation import (
    check_artifact_path,
    check_key,
    check_metric_value,
    check_params,
    check_step,
    check_time_ms,
)
from relayml.errors import Conflict, InvalidInput
from relayml.sdk import forget_run, latest_run, session, track_run
from relayml.tracking.buffer import MetricBuffer
from relayml.tracking.context import ResourceClock, capture_system

__all__ = [
    "ActiveRun",
    "active_run",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_params",
    "set_tags",
    "start_run",
]


class ActiveRun:
    """A run being logged to. Use it as a context manager, or call end()."""

    def __init__(self, backend: Backend, buffer: MetricBuffer, run: Run) -> None:
        self._backend = backend
        self._buffer = buffer
        self._lock = threading.Lock()
        self._steps: dict[str, int] = {}
        self._params: dict[str, str] = {}
        self._clock = ResourceClock()
        self.id = run.id
        self.name = run.name
        self.project = run.project
        self.experiment = run.experiment
        self.ended = False

    def __repr__(self) -> str:
        return f"<ActiveRun {self.name} id={self.id} experiment={self.experiment!r}>"

    # params and tags
    def log_param(self, key: str, value: Any) -> None:
        """Set one param (immutable once set)."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Set several params (immutable once set); queued and stored like metrics."""
        if self.ended:
            raise InvalidInput(f"run {self.name} ({self.id}) has ended; start a new run.")
        clean = check_params(params)
        with self._lock:
            for key, value in clean.items():
                old = self._params.get(key)
                if old is not None and old != value:
                    raise Conflict(
                        f"param {key!r} of run {self.id} is already {old!r}; it cannot become "
                        f"{value!r} (params are immutable: start a new run to try another value)."
                    )
            self._params.update(clean)
        self._buffer.add_params(self.id, clean)

    def set_tag(self, key: str, value: Any) -> None:
        """Set one tag (tags can change)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags."""
        self._backend.set_tags(self.id, tags)

    # metrics
    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Queue one metric point; without a step, the key's next step (0, 1, 2, ...) is used."""
        if self.ended or type(step) is not int or key not in self._steps or timestamp is not None:
            self.log_metrics({key: value}, step=step, timestamp=timestamp)
            return
        number = check_metric_value(key, value)
        check_step(key, step)
        with self._lock:
            if step > self._steps[key]:
                self._steps[key] = step
        self._buffer.add(self.id, [(key, number, step, now_ms())])

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Queue metric points, written in the background in batches."""
        if self.ended:
            raise InvalidInput(f"run {self.name} ({self.id}) has ended; start a new run.")
        ts = now_ms() if timestamp is None else check_time_ms(timestamp, "timestamp")
        if step is not None:
            check_step(next(iter(metrics), "?"), step)
        rows: list[MetricRow] = []
        with self._lock:
            for key, value in metrics.items():
                if key not in self._steps:
                    check_key(key, "metric")
                number = check_metric_value(key, value)
                s = step if step is not None else self._steps.get(key, -1) + 1
                self._steps[key] = max(s, self._steps.get(key, s))
                rows.append((key, number, s, ts))
        self._buffer.add(self.id, rows)

    def flush(self) -> None:
        """Block until every metric point logged so far is stored."""
        self._buffer.flush(self.id)

    # artifacts
    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> Artifact:
        """Store a file as an artifact (default path: the file's name)."""
        source = Path(local_path)
        if not source.is_file():
            raise InvalidInput(
                f"{source} is not a file; use log_artifacts() for a folder."
                if source.is_dir()
                else f"cannot log artifact: {source} does not exist."
            )
        return self._backend.log_artifact(self.id, artifact_path or source.name, source)

    def log_artifacts(
        self, local_dir: str | Path, artifact_path: str | None = None
    ) -> list[Artifact]:
        """Store every file of a folder, keeping its layout under artifact_path."""
        folder = Path(local_dir)
        if not folder.is_dir():
            raise InvalidInput(f"cannot log artifacts: {folder} is not a folder.")
        prefix = check_artifact_path(artifact_path) + "/" if artifact_path else ""
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        return [
            self._backend.log_artifact(self.id, prefix + f.relative_to(folder).as_posix(), f)
            for f in files
        ]

    def log_text(self, text: str, artifact_path: str) -> Artifact:
        """Store a string as a UTF-8 text artifact."""
        import io

        return self._backend.log_artifact(self.id, artifact_path, io.BytesIO(text.encode()))

    # inputs
    def log_input(self, dataset: str) -> str:
        """Record that this run reads a dataset version ('customers@3', 'customers@latest')."""
        from relayml.domain.lineage import LineageEdge, LineageNode

        version = self._backend.get_dataset_version(self.project, dataset)
        key = f"{self.project}/{version.ref}"
        self._backend.link(
            [
                LineageNode(kind="dataset_version", key=key, label=version.ref),
                LineageNode(kind="run", key=self.id, label=self.name),
            ],
            [
                LineageEdge(
                    src_kind="dataset_version",
                    src_key=key,
                    dst_kind="run",
                    dst_key=self.id,
                    relation="input_of",
                )
            ],
        )
        self.set_tags({f"input.{version.dataset}": str(version.version)})
        return version.ref

    # models
    def log_model(
        self,
        model: Any,
        name: str,
        input_example: Any,
        *,
        description: str = "",
        datasets: Sequence[str] = (),
        feature_inputs: Sequence[str] | Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Register the model as a new version of `name`, linked to this run and its code."""
        from relayml.models.publish import log_model

        version = log_model(
            self._backend,
            self.project,
            model,
            name,
            input_example,
            run_id=self.id,
            description=description,
            datasets=datasets,
            feature_inputs=feature_inputs,
        )
        self.set_tags({f"model.{name}": str(version.version)})
        return version

    # life cycle
    def info(self) -> Run:
        """The run as stored now (flushes metrics first)."""
        self.flush()
        return self._backend.get_run(self.id)

    def end(self, status: RunStatus | str = RunStatus.FINISHED, error: str | None = None) -> None:
        """End the run, storing its queued metric points and resource use with it."""
        if self.ended:
            return
        self.ended = True
        forget_run(self)
        lost: BaseException | None = None
        params: dict[str, str] = {}
        points: list[MetricRow] = []
        try:
            params, points = self._buffer.drain(self.id)
        except Exception as exc:  # end the run all the same, then report
            lost = exc
            status, error = RunStatus.FAILED, error or f"metrics were not stored: {exc}"
        try:
            self._backend.end_run(
                self.id,
                status,
                error=error,
                cpu_time=self._clock.cpu_time(),
                peak_memory_mb=self._clock.peak_memory_mb(),
                params=params,
                points=points,
            )
        except Exception:
            self.ended = False  # nothing was stored: the caller may retry end()
            self._buffer.add_params(self.id, params)
            self._buffer.add(self.id, points)
            raise
        if lost is not None:
            raise lost

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end(RunStatus.FINISHED)
        elif isinstance(exc, KeyboardInterrupt):
            self.end(RunStatus.KILLED, error="interrupted (KeyboardInterrupt)")
        else:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            self.end(RunStatus.FAILED, error=text[-20000:])


def start_run(
    experiment: str = "default",
    *,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    project: str | None = None,
) -> ActiveRun:
    """Start a run in an experiment of the current project (the experiment is created if new)."""
    backend, buffer, current = session()
    run = backend.create_run(
        project or current, experiment, name=name, tags=tags, system=capture_system()
    )
    active = ActiveRun(backend, buffer, run)
    track_run(active)
    return active


def active_run() -> ActiveRun | None:
    """The most recently started run that has not ended, if any."""
    return latest_run()


def _require_active() -> ActiveRun:
    run = active_run()
    if run is None:
        raise InvalidInput("no active run: call relay.start_run() first.")
    return run


def log_params(params: Mapping[str, Any]) -> None:
    """Set params of the active run."""
    _require_active().log_params(params)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Queue metric points of the active run."""
    _require_active().log_metrics(metrics, step=step)


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Queue one metric point of the active run."""
    _require_active().log_metric(key, value, step=step)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set tags of the active run."""
    _require_active().set_tags(tags)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> Artifact:
    """Store a file as an artifact of the active run."""
    return _require_active().log_artifact(local_path, artifact_path)
