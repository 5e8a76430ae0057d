"""The pipeline operations of LocalBackend (in-process, on the store and the blob store)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relayml.artifacts import BlobStore
from relayml.domain.pipelines import PipelineRun
from relayml.pipelines import runs as run_service
from relayml.pipelines.stepio import DirectIO
from relayml.store import Store

__all__ = ["LocalPipelineOps"]


class LocalPipelineOps:
    """Pipeline runs, step runs and the step cache, run in this process."""

    store: Store
    blobs: BlobStore
    actor: str

    def create_pipeline_run(
        self,
        project: str,
        pipeline: str,
        *,
        executor: str = "local",
        params: Mapping[str, Any] | None = None,
    ) -> PipelineRun:
        """Start recording a pipeline run (RUNNING)."""
        return run_service.create_pipeline_run(
            self.store, self.actor, project, pipeline, executor=executor, params=params or {}
        )

    def record_step_run(
        self, run_id: str, record: Mapping[str, Any], *, cache: bool = False
    ) -> int:
        """Store a step run as it ended (and its cache entry when cache=True); its id."""
        return run_service.record_step_run(self.store, self.actor, run_id, record, cache=cache)

    def finish_pipeline_run(
        self, run_id: str, status: str, *, error: str | None = None
    ) -> PipelineRun:
        """End a pipeline run: FINISHED, or FAILED with the error."""
        return run_service.finish_pipeline_run(self.store, self.actor, run_id, status, error=error)

    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        """A pipeline run with its steps (a unique id prefix of 6+ characters works too)."""
        return run_service.get_pipeline_run(self.store, run_id)

    def list_pipeline_runs(
        self, project: str, *, pipeline: str | None = None, limit: int = 50
    ) -> list[PipelineRun]:
        """A project's pipeline runs, newest first."""
        return run_service.list_pipeline_runs(self.store, project, pipeline=pipeline, limit=limit)

    def lookup_cache(self, cache_key: str) -> dict[str, Any] | None:
        """The cache entry of a key ({'outputs', 'step_run_id'}) if every output blob exists."""
        return DirectIO(self.store, self.blobs).lookup(cache_key)
