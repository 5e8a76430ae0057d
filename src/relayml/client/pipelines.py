"""The pipeline operations of HttpBackend: the same calls as LocalPipelineOps, over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from relayml.domain.pipelines import PipelineRun

__all__ = ["HttpPipelineOps"]


def _q(part: str) -> str:
    return quote(part, safe="")


class HttpPipelineOps:
    """Pipeline runs, step runs and the step cache, recorded on a relay server."""

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # provided by HttpBackend

    def _json(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # provided by HttpBackend

    def create_pipeline_run(
        self,
        project: str,
        pipeline: str,
        *,
        executor: str = "local",
        params: Mapping[str, Any] | None = None,
    ) -> PipelineRun:
        """Start recording a pipeline run (RUNNING)."""
        body = {"pipeline": pipeline, "executor": executor, "params": dict(params or {})}
        path = f"/projects/{_q(project)}/pipeline-runs"
        result: PipelineRun = self._json("POST", path, PipelineRun, json=body)
        return result

    def record_step_run(
        self, run_id: str, record: Mapping[str, Any], *, cache: bool = False
    ) -> int:
        """Store a step run as it ended (and its cache entry when cache=True); its id."""
        path = f"/pipeline-runs/{_q(run_id)}/steps"
        body = {"record": dict(record), "cache": cache}
        found: dict[str, int] = self._json("POST", path, dict[str, int], json=body)
        return found["id"]

    def finish_pipeline_run(
        self, run_id: str, status: str, *, error: str | None = None
    ) -> PipelineRun:
        """End a pipeline run: FINISHED, or FAILED with the error."""
        path = f"/pipeline-runs/{_q(run_id)}/finish"
        body = {"status": status, "error": error}
        result: PipelineRun = self._json("POST", path, PipelineRun, json=body)
        return result

    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        """A pipeline run with its steps (a unique id prefix of 6+ characters works too)."""
        result: PipelineRun = self._json("GET", f"/pipeline-runs/{_q(run_id)}", PipelineRun)
        return result

    def list_pipeline_runs(
        self, project: str, *, pipeline: str | None = None, limit: int = 50
    ) -> list[PipelineRun]:
        """A project's pipeline runs, newest first."""
        params: dict[str, Any] = {"limit": limit}
        if pipeline:
            params["pipeline"] = pipeline
        path = f"/projects/{_q(project)}/pipeline-runs"
        result: list[PipelineRun] = self._json("GET", path, list[PipelineRun], params=params)
        return result

    def lookup_cache(self, cache_key: str) -> dict[str, Any] | None:
        """The cache entry of a key ({'outputs', 'step_run_id'}) if every output blob exists."""
        path = f"/step-cache/{_q(cache_key)}"
        found: dict[str, Any] | None = self._json("GET", path, dict[str, Any] | None)
        return found
