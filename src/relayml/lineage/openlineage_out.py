"""OpenLineage out of relay: :func:`pipeline_run_event` builds the START / COMPLETE / FAIL events of
a relay pipeline run (namespace ``relayml://<project>``), and :func:`emit` POSTs one to an
OpenLineage endpoint (``{url}/api/v1/lineage``), retrying server errors, logging instead of
raising. relayml.lineage.openlineage takes events in."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from relayml import __version__
from relayml.domain.data import parse_dataset_ref
from relayml.errors import InvalidInput
from relayml.lineage.identity import dataset_identity
from relayml.lineage.openlineage import EVENT_TYPES, FACETS, PRODUCER, SCHEMA_URL, Dataset, iso

__all__ = ["emit", "pipeline_run_event"]

log = logging.getLogger(__name__)


def _facet(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "_producer": PRODUCER,
        "_schemaURL": f"{FACETS}/1-0-0/{name}.json#/$defs/{name}",
        **fields,
    }


def _as_dataset(project: str, item: str | Mapping[str, Any]) -> dict[str, Any]:
    """An OpenLineage dataset from a relay dataset ref, a URI, a local path or a dataset dict."""
    if isinstance(item, Mapping):
        ds = Dataset.model_validate(dict(item))
        return ds.model_dump(exclude_defaults=False)
    if "://" in item or "/" in item or "\\" in item:  # a URL or a path: the naming spec's name
        namespace, name = dataset_identity(item)
        return {"namespace": namespace, "name": name}
    ref = parse_dataset_ref(item)
    facets: dict[str, Any] = {}
    if ref.version is not None:
        facets["version"] = _facet("DatasetVersionDatasetFacet", datasetVersion=str(ref.version))
    return {"namespace": f"relayml://{project}", "name": ref.name, "facets": facets}


def _run_uuid(project: str, run_id: str) -> str:
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"relayml://{project}/pipeline_run/{run_id}"))


def pipeline_run_event(
    event_type: str,
    *,
    project: str,
    pipeline: str,
    run_id: str,
    inputs: Sequence[str | Mapping[str, Any]] = (),
    outputs: Sequence[str | Mapping[str, Any]] = (),
    event_time: datetime | None = None,
    error: str | None = None,
    stack_trace: str | None = None,
) -> dict[str, Any]:
    """The OpenLineage RunEvent (as JSON data) of a relay pipeline run's START, COMPLETE or FAIL.

    inputs and outputs are relay dataset refs (customers@3), URIs (s3://bucket/key), local
    paths, or OpenLineage dataset dicts (namespace, name, facets).
    """
    if event_type not in EVENT_TYPES:
        raise InvalidInput(f"eventType {event_type!r} is not one of {', '.join(EVENT_TYPES)}.")
    namespace = f"relayml://{project}"
    run_facets: dict[str, Any] = {
        "relayml": {
            "_producer": PRODUCER,
            "_schemaURL": f"{PRODUCER}#RelaymlRunFacet",
            "project": project,
            "pipelineRunId": run_id,
        }
    }
    if error is not None:
        fields: dict[str, Any] = {"message": error, "programmingLanguage": "python"}
        if stack_trace:
            fields["stackTrace"] = stack_trace
        run_facets["errorMessage"] = _facet("ErrorMessageRunFacet", **fields)
    return {
        "eventType": event_type,
        "eventTime": iso(event_time or datetime.now(UTC)),
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": _run_uuid(project, run_id), "facets": run_facets},
        "job": {
            "namespace": namespace,
            "name": pipeline,
            "facets": {
                "jobType": _facet(
                    "JobTypeJobFacet",
                    processingType="BATCH",
                    integration="RELAYML",
                    jobType="PIPELINE",
                )
            },
        },
        "inputs": [_as_dataset(project, item) for item in inputs],
        "outputs": [_as_dataset(project, item) for item in outputs],
    }


def emit(
    url: str,
    event: Mapping[str, Any],
    *,
    api_key: str | None = None,
    timeout: float = 5.0,
    attempts: int = 4,
    backoff: float = 0.5,
) -> bool:
    """POST an event to {url}/api/v1/lineage; True when accepted. Never raises: logs a warning."""
    import httpx

    from relayml.tls import tls_context

    target = url.rstrip("/") + "/api/v1/lineage"
    headers = {"Content-Type": "application/json", "User-Agent": f"relayml/{__version__}"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    problem = "no attempt made"
    try:
        with httpx.Client(timeout=timeout, headers=headers, verify=tls_context()) as client:
            for attempt in range(max(1, attempts)):
                if attempt:
                    time.sleep(backoff * 2 ** (attempt - 1))
                try:
                    response = client.post(target, json=dict(event))
                except httpx.TransportError as exc:
                    problem = f"{exc.__class__.__name__}: {exc}"
                    continue
                if response.status_code < 300:
                    return True
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # the event itself was refused: sending it again will not help
    except Exception as exc:  # never break the caller's pipeline over lineage
        problem = f"{exc.__class__.__name__}: {exc}"
    log.warning("OpenLineage event not delivered to %s (%s)", target, problem)
    return False
