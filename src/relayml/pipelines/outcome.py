"""What a pipeline run leaves: its outcome (DAG and step results), its outputs read back from
the artifact store, and the lineage facts linking outputs, step runs and the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from relayml.domain.lineage import LineageEdge, LineageNode
from relayml.domain.pipelines import PipelineRun
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput
from relayml.pipelines.context import default_backend
from relayml.pipelines.dag import Dag
from relayml.pipelines.execute import StepResult
from relayml.pipelines.stepio import BackendIO
from relayml.pipelines.values import load_value

__all__ = ["PipelineOutcome", "StepEvent", "lineage_of", "load_output", "load_outputs"]


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


def load_outputs(run: PipelineRun, backend: Backend | None = None) -> dict[str, Any]:
    """The named outputs of a finished pipeline run, read back from the artifact store."""
    if run.status != "FINISHED":
        raise InvalidInput(
            f"pipeline run {run.id} is {run.status}; only a FINISHED run has all its outputs "
            "(load one step's output with load_output())."
        )
    io_ = BackendIO(default_backend(backend))
    values: dict[str, Any] = {}
    for step_run in run.steps:
        for record in step_run.outputs.values():
            for name in record.get("pipeline_outputs", []):
                values[name] = load_value(io_, record)
    return values


def load_output(
    run: PipelineRun, step: str, output: str = "output", backend: Backend | None = None
) -> Any:
    """One step's output in a pipeline run (any status), read back from the artifact store."""
    for step_run in run.steps:
        if step_run.step == step:
            if output not in step_run.outputs:
                raise InvalidInput(
                    f"step {step!r} of pipeline run {run.id} has no output {output!r} "
                    f"(it is {step_run.status}; outputs: {', '.join(step_run.outputs) or 'none'})."
                )
            return load_value(BackendIO(default_backend(backend)), step_run.outputs[output])
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
