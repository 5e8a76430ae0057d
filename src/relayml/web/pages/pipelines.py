"""The pipelines pages: a project's pipeline runs, and one run's DAG, timings and steps.

The DAG joins each step's outputs (by sha256) to the steps that read them (the lineage the run
recorded: output --input_of--> step run); a run recorded without lineage shows no edges.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from relayml.api.auth import requires
from relayml.domain.identity import Identity
from relayml.domain.pipelines import PipelineRun, StepRun
from relayml.errors import NotFound, RelayError
from relayml.web.pages.common import page_router
from relayml.web.render import backend_of, page

__all__ = ["router", "step_dag", "timeline"]

router = page_router()

LIMITS = (50, 200)


def _seconds(run: PipelineRun) -> float | None:
    if run.ended_at is None:
        return None
    return (run.ended_at - run.started_at).total_seconds()


@router.get("/projects/{project}/pipelines")
def pipelines_page(
    request: Request,
    project: str,
    pipeline: str = "",
    limit: int = 50,
    identity: Identity = requires("project.read"),
) -> Response:
    """A project's newest pipeline runs (bounded, filter by name), and its schedules."""
    backend = backend_of(request)
    limit = limit if limit in LIMITS else LIMITS[0]
    found = backend.list_pipeline_runs(project, pipeline=pipeline or None, limit=limit + 1)
    runs = [{"run": r, "seconds": _seconds(r), "counts": _counts(r.steps)} for r in found[:limit]]
    return page(
        request,
        "pipelines/list.html",
        project=project,
        runs=runs,
        pipeline=pipeline,
        limit=limit,
        more=len(found) > limit,
        names=sorted({r["run"].pipeline for r in runs}),
        schedules=backend.list_schedules(project),
    )


def _counts(steps: list[StepRun]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    return counts


def step_dag(
    run: PipelineRun, graph: Any, project: str
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The DAG's graph data (nodes coloured by status) and each step's inputs (step.output)."""
    by_id = {str(s.id): s for s in run.steps}
    producer: dict[str, str] = {}  # output sha256 -> the step run that made it
    labels: dict[str, str] = {}
    for s in run.steps:
        for name, out in s.outputs.items():
            if isinstance(out.get("sha256"), str):
                producer.setdefault(out["sha256"], str(s.id))
                labels.setdefault(out["sha256"], f"{s.step}.{name}")
    readers: dict[str, list[str]] = {}  # output sha256 -> the step runs that read it
    if graph is not None:
        for node in graph.nodes:
            if node.kind == "step_output":
                labels.setdefault(node.key, node.label)
        for edge in graph.edges:
            if edge.relation == "input_of" and edge.dst_kind == "step_run":
                readers.setdefault(edge.src_key, []).append(edge.dst_key)
    edges = set()
    inputs: dict[str, list[str]] = {}
    for sha, step_ids in readers.items():
        for step_id in step_ids:
            if step_id in by_id:
                inputs.setdefault(by_id[step_id].step, []).append(labels.get(sha, sha[:12]))
                if sha in producer and producer[sha] in by_id:
                    edges.add((by_id[producer[sha]].step, by_id[step_id].step))
    nodes = [
        {"id": s.step, "label": f"{s.step} · {s.status.lower()}", "kind": s.status,
         "href": f"/projects/{project}/pipelines/{run.id}?step={s.step}#step"}
        for s in run.steps
    ]  # fmt: skip
    data = {"nodes": nodes, "edges": [{"from": a, "to": b} for a, b in sorted(edges)],
            "direction": "LR"}  # fmt: skip
    return data, inputs


def timeline(run: PipelineRun) -> dict[str, Any] | None:
    """Bars of the steps' start and end on the run's time axis (a Gantt-like view)."""
    if not run.steps:
        return None
    start = run.started_at
    ends = [s.ended_at or s.started_at for s in run.steps] + [run.ended_at or run.started_at]
    span = max((max(ends) - start).total_seconds(), 0.001)
    label_w, width, row = 160.0, 520.0, 22
    bars = []
    for i, s in enumerate(run.steps):
        begin = max((s.started_at - start).total_seconds(), 0.0)
        length = s.duration if s.duration is not None else (
            ((s.ended_at or s.started_at) - s.started_at).total_seconds()
        )  # fmt: skip
        x = label_w + begin / span * width
        w = max(length / span * width, 2.0)
        bars.append({"step": s.step, "status": s.status, "x": round(x, 1), "w": round(w, 1),
                     "y": i * row + 4, "seconds": length, "begin": begin})  # fmt: skip
    height = len(bars) * row
    return {"bars": bars, "width": label_w + width + 90, "height": height + 24,
            "axis_y": height + 16, "span": span, "label_w": label_w, "plot_w": width}  # fmt: skip


@router.get("/projects/{project}/pipelines/{run_id}")
def pipeline_run_page(
    request: Request,
    project: str,
    run_id: str,
    step: str = "",
    identity: Identity = requires("project.read"),
) -> Response:
    """A pipeline run: its DAG by step status, the steps' timings, and one step in detail."""
    backend = backend_of(request)
    run = backend.get_pipeline_run(run_id)
    if run.project != project:
        raise NotFound(f"project {project} has no pipeline run {run_id}.")
    try:
        graph = backend.lineage("pipeline_run", run.id, depth=2)
    except RelayError:  # recorded without lineage: the steps still show, without edges
        graph = None
    dag, inputs = step_dag(run, graph, project)
    chosen = next((s for s in run.steps if s.step == step), None)
    if step and chosen is None:
        raise NotFound(f"pipeline run {run.id} has no step {step!r}.")
    return page(
        request,
        "pipelines/detail.html",
        project=project,
        run=run,
        seconds=_seconds(run),
        dag=dag,
        inputs=inputs,
        bars=timeline(run),
        chosen=chosen,
        hit=chosen is not None and chosen.status == "CACHED",
    )
