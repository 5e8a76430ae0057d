"""Pipelines: steps are plain functions marked @relay.step, composed in a @relay.pipeline.

The DAG comes from data dependencies; each step run is cached under (code hash, input hashes,
params), retried with backoff, and recorded with its duration, CPU time, peak memory, logs and
outputs. Steps run in this process or on a Dask cluster (``executor="dask://host:port"``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from relayml.errors import PipelineFailed
from relayml.pipelines.context import use_defaults

if TYPE_CHECKING:
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

# Loaded on first use, so that the SDK can install the pipelines' defaults (context.py) without
# importing the runner and, through it, the store: a client of a relay server never loads it.
_HOMES = {
    "Step": "dag",
    "StepOutput": "dag",
    "step": "dag",
    "PipelineOutcome": "outcome",
    "StepEvent": "outcome",
    "lineage_of": "outcome",
    "load_output": "outcome",
    "load_outputs": "outcome",
    "Pipeline": "runner",
    "pipeline": "runner",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'relayml.pipelines' has no attribute {name!r}")
    return getattr(import_module(f"relayml.pipelines.{home}"), name)
