"""Running a pipeline: build its DAG, run the steps on an executor, record every step run.

    @relay.pipeline
    def churn_data(source: str = "customers.csv"):
        table = clean(load(source), min_age=21)
        return {"table": table}

    run = churn_data.run(source="x.csv")            # a PipelineRun, recorded in the store
    values = relay.pipelines.load_outputs(run)       # {"table": <DataFrame>} (outcome.py)

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
from typing import Any, overload

from relayml.config import get_settings
from relayml.domain.pipelines import PipelineRun
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput, PipelineFailed
from relayml.pipelines.context import default_backend, default_project
from relayml.pipelines.dag import Dag, build
from relayml.pipelines.execute import StepResult, StepTask
from relayml.pipelines.executors import Executor, resolve_executor
from relayml.pipelines.keys import canonical_json
from relayml.pipelines.outcome import PipelineOutcome, StepEvent, lineage_of
from relayml.pipelines.stepio import BackendIO, WorkerIO

__all__ = ["Pipeline", "pipeline"]


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
        backend: Backend | None = None,
        on_event: Callable[[StepEvent], None] | None = None,
        force: bool = False,
    ) -> PipelineOutcome:
        """Run and record the pipeline; the outcome with the DAG and each step's result.

        force=True runs every step, taking nothing from the cache (what they produce is
        cached as usual)."""
        backend = default_backend(backend)
        project = default_project(project)
        return _run(self, dict(params or {}), backend, project, executor, on_event, force)

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        /,
        *,
        executor: str | Executor | None = None,
        project: str | None = None,
        backend: Backend | None = None,
        on_event: Callable[[StepEvent], None] | None = None,
        raise_on_failure: bool = True,
        force: bool = False,
        **kwargs: Any,
    ) -> PipelineRun:
        """Run and record the pipeline with these params (as a dict and/or keywords);
        force=True runs every step instead of reusing cached outputs."""
        outcome = self.execute(
            {**(params or {}), **kwargs},
            executor=executor,
            project=project,
            backend=backend,
            on_event=on_event,
            force=force,
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


def _tasks(dag: Dag, *, reuse: bool = True) -> list[StepTask]:
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
            reuse=reuse,
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
    backend: Backend,
    project: str,
    executor: str | Executor | None,
    on_event: Callable[[StepEvent], None] | None,
    force: bool = False,
) -> PipelineOutcome:
    bound = pipe.bind(params)
    dag = build(pipe.fn, bound, pipe.name)
    tasks = _tasks(dag, reuse=not force)
    settings = getattr(backend, "settings", None) or get_settings()  # both transports have it
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
                worker=WorkerIO.like(backend, settings),
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
    # step outputs -> step runs -> outputs, each step run part of the run
    backend.link(*lineage_of(outcome))
    _openlineage(settings, project, outcome.run, "FAIL" if failed else "COMPLETE")
    return outcome


def _openlineage(settings: Any, project: str, run: PipelineRun, event_type: str) -> None:
    """Tell an external OpenLineage receiver (RELAY_OPENLINEAGE_URL), if one is set."""
    url = getattr(settings, "openlineage_url", None)
    if not url:
        return
    from relayml.lineage import openlineage_out as openlineage

    event = openlineage.pipeline_run_event(
        event_type, project=project, pipeline=run.pipeline, run_id=run.id, error=run.error
    )
    key = getattr(settings, "openlineage_api_key", None)
    # never raises: a lineage receiver must not break the run
    openlineage.emit(url, event, api_key=key)
