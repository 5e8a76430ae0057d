"""Running a pipeline: build its DAG, run the steps on an executor, record every step run.

    @relay.pipeline
    def churn_data(source: str = "customers.csv"):
        table = clean(load(source), min_age=21)
        return {"table": table}

    run = churn_data.run(source="x.csv")            # a PipelineRun, recorded in the store
    values = relay.pipelines.load_outputs(run)       # {"table": <DataFrame>}

A pipeline run ends FINISHED or FAILED. On failure ``run()`` raises :class:`PipelineFailed`
(carrying the recorded run), or InvalidInput when a step returned something that cannot be stored;
pass ``raise_on_failure=False`` to get the FAILED run back instead. Calling a pipeline function
directly (``churn_data(source=...)``) runs its steps as plain functions: no store, no cache.
"""

from __future__ import annotations

import inspect
import json
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, overload

from relayml import sdk
from relayml.config import get_settings
from relayml.domain.lineage import LineageEdge, LineageNode
from relayml.domain.pipelines import PipelineRun
from relayml.errors import InvalidInput, PipelineFailed
from relayml.pipelines.dag import Dag, build, canonical_json
from relayml.pipelines.execute import StepResult, StepTask
from relayml.pipelines.executors import BackendIO, Executor, resolve_executor, worker_settings
from relayml.pipelines.values import load_value

__all__ = [
    "Pipeline",
    "PipelineBackend",
    "PipelineOutcome",
    "StepEvent",
    "lineage_of",
    "load_output",
    "load_outputs",
    "pipeline",
]


class PipelineBackend(Protocol):
    """The backend operations pipelines use (LocalBackend with LocalPipelineOps has them)."""

    actor: str

    def create_pipeline_run(
        self,
        project: str,
        pipeline: str,
        *,
        executor: str = "local",
        params: Mapping[str, Any] | None = None,
    ) -> PipelineRun: ...
    def record_step_run(
        self, run_id: str, record: Mapping[str, Any], *, cache: bool = False
    ) -> int: ...
    def finish_pipeline_run(
        self, run_id: str, status: str, *, error: str | None = None
    ) -> PipelineRun: ...
    def get_pipeline_run(self, run_id: str) -> PipelineRun: ...
    def list_pipeline_runs(
        self, project: str, *, pipeline: str | None = None, limit: int = 50
    ) -> list[PipelineRun]: ...
    def lookup_cache(self, cache_key: str) -> dict[str, Any] | None: ...
    def upload_blob(self, source: str | Path) -> tuple[str, int]: ...
    def fetch_blob(self, sha256: str, dest: str | Path) -> Path: ...


@dataclass(frozen=True)
class StepEvent:
    """Progress of a run: 'plan' (the steps, in order), then 'start' and 'end' per step."""

    kind: Literal["plan", "start", "end"]
    run_id: str
    node: str = ""
    nodes: tuple[str, ...] = ()
    result: StepResult | None = None


@dataclass
class PipelineOutcome:
    """A finished run with what the lead needs for lineage: the DAG and each step's result."""

    run: PipelineRun
    dag: Dag
    results: dict[str, StepResult] = field(default_factory=dict)
    step_run_ids: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> StepResult | None:
        """The first step that failed, if any."""
        return next((r for r in self.results.values() if r.status == "FAILED"), None)


class Pipeline:
    """A function marked with @relay.pipeline: ``run()`` runs and records it."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        if not callable(fn) or inspect.isclass(fn):
            raise InvalidInput(f"@relay.pipeline decorates a function, not {fn!r}.")
        self.fn = fn
        self.name = name or f"{fn.__module__}:{fn.__qualname__}"
        self.signature = inspect.signature(fn)

    def __repr__(self) -> str:
        return f"<relay pipeline {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The plain function: its steps run as functions, or, inside another pipeline being
        defined, join that pipeline's DAG (a sub-pipeline)."""
        return self.fn(*args, **kwargs)

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The params with defaults filled in; unknown, missing or non-JSON ones refused."""
        takes = ", ".join(self.signature.parameters) or "none"
        for key in params:
            if key not in self.signature.parameters:
                raise InvalidInput(
                    f"pipeline {self.name} has no parameter {key!r} (it takes: {takes})."
                )
        try:
            bound = self.signature.bind(**params)
        except TypeError as exc:
            raise InvalidInput(f"pipeline {self.name}: {exc} (it takes: {takes}).") from None
        bound.apply_defaults()
        for key, value in bound.arguments.items():
            try:
                canonical_json(value)
            except (TypeError, ValueError):
                raise InvalidInput(
                    f"parameter {key!r} of pipeline {self.name} is a {type(value).__qualname__}; "
                    "pipeline parameters must be JSON-like (str, numbers, bools, lists, dicts)."
                ) from None
        return dict(bound.arguments)

    def build(self, **params: Any) -> Dag:
        """The checked DAG these params give (nothing runs)."""
        return build(self.fn, self.bind(params), self.name)

    def execute(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        executor: str | Executor | None = None,
        project: str | None = None,
        backend: PipelineBackend | None = None,
        on_event: Callable[[StepEvent], None] | None = None,
    ) -> PipelineOutcome:
        """Run and record the pipeline; the outcome with the DAG and each step's result."""
        if backend is None:
            backend = sdk.get_backend()  # type: ignore[assignment]
        if project is None:
            project = sdk.current_project()
        if backend is None or not hasattr(backend, "create_pipeline_run"):
            raise InvalidInput(
                f"the {type(backend).__name__} backend cannot record pipeline runs yet: run "
                "pipelines on the store in-process (unset RELAY_SERVER_URL)."
            )
        return _run(self, dict(params or {}), backend, project, executor, on_event)

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        /,
        *,
        executor: str | Executor | None = None,
        project: str | None = None,
        backend: PipelineBackend | None = None,
        on_event: Callable[[StepEvent], None] | None = None,
        raise_on_failure: bool = True,
        **kwargs: Any,
    ) -> PipelineRun:
        """Run and record the pipeline with these params (as a dict and/or keywords)."""
        outcome = self.execute(
            {**(params or {}), **kwargs},
            executor=executor,
            project=project,
            backend=backend,
            on_event=on_event,
        )
        failed = outcome.failed
        if failed is not None and raise_on_failure:
            where = f"(pipeline run {outcome.run.id}; see `relay pipelines show {outcome.run.id}`)"
            if failed.invalid_input:
                raise InvalidInput(f"{failed.error} {where}")
            raise PipelineFailed(f"{outcome.run.error} {where}", outcome.run)
        return outcome.run


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...
@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...
def pipeline(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Mark a function as a pipeline: its steps' data dependencies make the DAG."""

    def wrap(func: Callable[..., Any]) -> Pipeline:
        return Pipeline(func, name=name)

    return wrap(fn) if fn is not None else wrap


def _tasks(dag: Dag) -> list[StepTask]:
    return [
        StepTask(
            node=node.name,
            fn=node.step.fn,
            code_hash=node.step.code_hash,
            arguments=node.arguments,
            outputs=node.step.outputs,
            retries=node.step.retries,
            backoff=node.step.backoff,
            cache=node.step.cache,
            upstream=node.upstream,
        )
        for node in dag.order()
    ]


def _summary(result: StepResult) -> str:
    lines = [line for line in (result.error or "").strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else "unknown error"
    tries = f"after {result.attempts} attempts" if result.attempts > 1 else "on its only attempt"
    if result.invalid_input:
        return f"step {result.node!r} failed: {last}"
    return f"step {result.node!r} failed {tries}: {last}"


def _run(
    pipe: Pipeline,
    params: dict[str, Any],
    backend: PipelineBackend,
    project: str,
    executor: str | Executor | None,
    on_event: Callable[[StepEvent], None] | None,
) -> PipelineOutcome:
    bound = pipe.bind(params)
    dag = build(pipe.fn, bound, pipe.name)
    tasks = _tasks(dag)
    settings = getattr(backend, "settings", None) or get_settings()
    runner = resolve_executor(executor, settings.executor)
    emit = on_event or (lambda event: None)
    try:
        runner.open(tasks)
        stored_params = json.loads(canonical_json(bound))
        run = backend.create_pipeline_run(
            project, pipe.name, executor=runner.name, params=stored_params
        )
        outcome = PipelineOutcome(run=run, dag=dag)
        _openlineage(settings, project, run, "START")
        cacheable = {task.node: task.cache for task in tasks}
        emit(StepEvent("plan", run.id, nodes=tuple(t.node for t in tasks)))

        def started(node: str) -> None:
            emit(StepEvent("start", run.id, node=node))

        def ended(result: StepResult) -> None:
            for name, names in dag.nodes[result.node].exported.items():
                if name in result.outputs:
                    result.outputs[name] = {**result.outputs[name], "pipeline_outputs": names}
            cache = result.status == "FINISHED" and cacheable[result.node]
            outcome.step_run_ids[result.node] = backend.record_step_run(
                run.id, result.record(), cache=cache
            )
            outcome.results[result.node] = result
            emit(StepEvent("end", run.id, node=result.node, result=result))

        try:
            runner.run(
                tasks,
                io_=BackendIO(backend),
                settings=worker_settings(settings),
                run_id=run.id,
                on_start=started,
                on_result=ended,
            )
        except BaseException as exc:
            reason = (
                "interrupted"
                if isinstance(exc, KeyboardInterrupt)
                else "".join(traceback.format_exception(exc))
            )
            try:
                backend.finish_pipeline_run(run.id, "FAILED", error=f"the run stopped: {reason}")
            except Exception:
                pass  # the original error matters more
            raise
    finally:
        runner.close()
    failed = outcome.failed
    outcome.run = backend.finish_pipeline_run(
        run.id,
        "FAILED" if failed else "FINISHED",
        error=_summary(failed) if failed else None,
    )
    link = getattr(backend, "link", None)
    if link is not None:  # step outputs -> step runs -> outputs, each step run part of the run
        link(*lineage_of(outcome))
    _openlineage(settings, project, outcome.run, "FAIL" if failed else "COMPLETE")
    return outcome


def _openlineage(settings: Any, project: str, run: PipelineRun, event_type: str) -> None:
    """Tell an external OpenLineage receiver (RELAY_OPENLINEAGE_URL), if one is set."""
    url = getattr(settings, "openlineage_url", None)
    if not url:
        return
    from relayml.lineage import openlineage

    event = openlineage.pipeline_run_event(
        event_type, project=project, pipeline=run.pipeline, run_id=run.id, error=run.error
    )
    openlineage.emit(url, event)  # never raises: a lineage receiver must not break the run


def _pipeline_backend(backend: PipelineBackend | None) -> PipelineBackend:
    return backend if backend is not None else sdk.get_backend()  # type: ignore[return-value]


def load_outputs(run: PipelineRun, backend: PipelineBackend | None = None) -> dict[str, Any]:
    """The named outputs of a finished pipeline run, read back from the artifact store."""
    if run.status != "FINISHED":
        raise InvalidInput(
            f"pipeline run {run.id} is {run.status}; only a FINISHED run has all its outputs "
            "(load one step's output with load_output())."
        )
    io_ = BackendIO(_pipeline_backend(backend))
    values: dict[str, Any] = {}
    for step_run in run.steps:
        for record in step_run.outputs.values():
            for name in record.get("pipeline_outputs", []):
                values[name] = load_value(io_, record)
    return values


def load_output(
    run: PipelineRun, step: str, output: str = "output", backend: PipelineBackend | None = None
) -> Any:
    """One step's output in a pipeline run (any status), read back from the artifact store."""
    for step_run in run.steps:
        if step_run.step == step:
            if output not in step_run.outputs:
                raise InvalidInput(
                    f"step {step!r} of pipeline run {run.id} has no output {output!r} "
                    f"(it is {step_run.status}; outputs: {', '.join(step_run.outputs) or 'none'})."
                )
            return load_value(BackendIO(_pipeline_backend(backend)), step_run.outputs[output])
    steps = ", ".join(s.step for s in run.steps)
    raise InvalidInput(f"pipeline run {run.id} has no step {step!r} (steps: {steps}).")


def lineage_of(outcome: PipelineOutcome) -> tuple[list[LineageNode], list[LineageEdge]]:
    """Nodes and edges for the lineage graph: outputs --input_of--> step runs --produced-->
    outputs, and step runs --part_of--> the pipeline run. Outputs are keyed by content hash."""
    run = outcome.run
    nodes = [LineageNode(kind="pipeline_run", key=run.id, label=run.pipeline)]
    edges: list[LineageEdge] = []
    blobs: dict[str, LineageNode] = {}
    for node, result in outcome.results.items():
        step_id = outcome.step_run_ids.get(node)
        if step_id is None:
            continue
        key = str(step_id)
        nodes.append(
            LineageNode(kind="step_run", key=key, label=node, facets={"status": result.status})
        )
        edges.append(
            LineageEdge(
                src_kind="step_run",
                src_key=key,
                dst_kind="pipeline_run",
                dst_key=run.id,
                relation="part_of",
            )
        )
        for item in result.inputs:
            edges.append(
                LineageEdge(
                    src_kind="step_output",
                    src_key=item["sha256"],
                    dst_kind="step_run",
                    dst_key=key,
                    relation="input_of",
                )
            )
        for name, record in result.outputs.items():
            sha = record["sha256"]
            facets = {"kind": record["kind"], "type": record["type"]}
            blobs.setdefault(
                sha, LineageNode(kind="step_output", key=sha, label=f"{node}.{name}", facets=facets)
            )
            edges.append(
                LineageEdge(
                    src_kind="step_run",
                    src_key=key,
                    dst_kind="step_output",
                    dst_key=sha,
                    relation="produced",
                )
            )
    return nodes + list(blobs.values()), edges
