"""Pipelines: steps are plain functions marked @relay.step, composed in a @relay.pipeline.

The DAG comes from data dependencies; each step run is cached under (code hash, input hashes,
params), retried with backoff, and recorded with its duration, CPU time, peak memory, logs and
outputs. Steps run in this process or on a Dask cluster (``executor="dask://host:port"``).
"""

from relayml.errors import PipelineFailed
from relayml.pipelines.context import use_defaults
from relayml.pipelines.dag import Step, StepOutput, step
from relayml.pipelines.outcome import (
    PipelineOutcome,
    StepEvent,
    lineage_of,
    load_output,
    load_outputs,
)
from relayml.pipelines.runner import Pipeline, pipeline

__all__ = [
    "Pipeline",
    "PipelineFailed",
    "PipelineOutcome",
    "Step",
    "StepEvent",
    "StepOutput",
    "lineage_of",
    "load_output",
    "load_outputs",
    "pipeline",
    "step",
    "use_defaults",
]
