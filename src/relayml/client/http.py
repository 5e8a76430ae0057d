"""The HTTP transport (httpx, keep-alive). Errors come back as the same RelayError classes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from relayml.client.services import SERVICES, Services
from relayml.config import Settings
from relayml.domain.entities import (
    KPI,
    Artifact,
    AuditEntry,
    AuditQuery,
    Experiment,
    MetricPoint,
    Project,
    Run,
    RunPage,
    RunStatus,
)
from relayml.domain.ports import MetricRow
from relayml.domain.validation import check_artifact_path, check_metric_rows
from relayml.errors import (
    BY_CODE,
    PermissionDenied,
    RelayError,
    ServerUnavailable,
    Unauthenticated,
)
from relayml.operations import LazyOperations
from relayml.tls import tls_context

__all__ = ["HttpBackend"]

T = TypeVar("T")


def _q(part: str) -> str:
    return quote(part, safe="")


def _finite(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


class HttpBackend(LazyOperations, Services):
    """Every operation, sent to the relay server at settings.server_url."""

    OPERATIONS = SERVICES

    def __init__(self, settings: Settings) -> None:
        assert settings.server_url
        self.settings = settings
        self.actor = settings.user
        self.url = settings.server_url.rstrip("/")
        # With a token the server knows who is calling; without one (a server started with
        # --no-auth, for one person) the client names its user.
        headers = {"User-Agent": "relayml-client"}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        else:
            headers["X-Relay-User"] = settings.user
        self._http = httpx.Client(
            base_url=self.url + "/api/v1",
            headers=headers,
            timeout=settings.http_timeout,
            verify=tls_context(),
        )

    def with_actor(self, actor: str) -> HttpBackend:
        """A client of the same server acting for another user.

        With a token (RELAY_TOKEN), the server acts for the token's user whatever the name: to
        act as someone else, use a client with their token.
        """
        return HttpBackend(self.settings.model_copy(update={"user": actor}))

    # transport
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnavailable(
                f"cannot reach the relay server at {self.url} ({exc.__class__.__name__}: {exc}). "
                "Is `relay server` running there? Unset RELAY_SERVER_URL to use the local store."
            ) from exc
        if response.status_code >= 400:
            raise self._error(response)
        return response

    def _error(self, response: httpx.Response) -> RelayError:
        try:
            body = response.json()["error"]
            cls = BY_CODE.get(body["code"], RelayError)
            return cls(body["message"])
        except (ValueError, KeyError, TypeError):
            text = response.text[:300]
            cls = {401: Unauthenticated, 403: PermissionDenied}.get(
                response.status_code, RelayError
            )
            return cls(f"the relay server answered {response.status_code}: {text}")

    def _json(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind.model_validate_json(response.content)
        return TypeAdapter(kind).validate_json(response.content)

    # projects
    def create_project(
        self,
        name: str,
        *,
        description: str = "",
        business_question: str = "",
        owner: str | None = None,
        kpis: Sequence[KPI | dict[str, Any]] = (),
    ) -> Project:
        """Create a project."""
        body = {
            "name": name,
            "description": description,
            "business_question": business_question,
            "owner": owner,  # None: the server makes the caller (the token's user) the owner
            "kpis": [k.model_dump() if isinstance(k, KPI) else k for k in kpis],
        }
        result: Project = self._json("POST", "/projects", Project, json=body)
        return result

    def get_project(self, name: str) -> Project:
        """A project by name."""
        result: Project = self._json("GET", f"/projects/{_q(name)}", Project)
        return result

    def list_projects(self) -> list[Project]:
        """Every project."""
        result: list[Project] = self._json("GET", "/projects", list[Project])
        return result

    def update_project(
        self,
        name: str,
        *,
        description: str | None = None,
        business_question: str | None = None,
        owner: str | None = None,
        kpis: Sequence[KPI | dict[str, Any]] | None = None,
    ) -> Project:
        """Change a project."""
        body: dict[str, Any] = {
            "description": description,
            "business_question": business_question,
            "owner": owner,
        }
        if kpis is not None:
            body["kpis"] = [k.model_dump() if isinstance(k, KPI) else k for k in kpis]
        body = {k: v for k, v in body.items() if v is not None}
        result: Project = self._json("PATCH", f"/projects/{_q(name)}", Project, json=body)
        return result

    # experiments
    def create_experiment(self, project: str, name: str, *, description: str = "") -> Experiment:
        """Create an experiment."""
        body = {"name": name, "description": description}
        path = f"/projects/{_q(project)}/experiments"
        result: Experiment = self._json("POST", path, Experiment, json=body)
        return result

    def get_experiment(self, project: str, name: str) -> Experiment:
        """An experiment by name."""
        path = f"/projects/{_q(project)}/experiments/{_q(name)}"
        result: Experiment = self._json("GET", path, Experiment)
        return result

    def list_experiments(self, project: str, *, include_deleted: bool = False) -> list[Experiment]:
        """A project's experiments."""
        path = f"/projects/{_q(project)}/experiments"
        params = {"include_deleted": "true"} if include_deleted else None
        result: list[Experiment] = self._json("GET", path, list[Experiment], params=params)
        return result

    def delete_experiment(self, project: str, name: str) -> Experiment:
        """Hide an experiment and its runs."""
        path = f"/projects/{_q(project)}/experiments/{_q(name)}"
        result: Experiment = self._json("DELETE", path, Experiment)
        return result

    def restore_experiment(self, project: str, name: str) -> Experiment:
        """Bring a deleted experiment back."""
        path = f"/projects/{_q(project)}/experiments/{_q(name)}/restore"
        result: Experiment = self._json("POST", path, Experiment)
        return result

    # runs
    def create_run(
        self,
        project: str,
        experiment: str,
        *,
        name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        system: Mapping[str, Any] | None = None,
        start_time: int | None = None,
    ) -> Run:
        """Start a run."""
        body = {
            "experiment": experiment,
            "name": name,
            "tags": {k: str(v) for k, v in (tags or {}).items()},
            "system": dict(system or {}),
            "start_time": start_time,
        }
        result: Run = self._json("POST", f"/projects/{_q(project)}/runs", Run, json=body)
        return result

    def get_run(self, run_id: str) -> Run:
        """A run by id."""
        result: Run = self._json("GET", f"/runs/{_q(run_id)}", Run)
        return result

    def delete_run(self, run_id: str) -> Run:
        """Hide a run and refuse logging to it."""
        result: Run = self._json("DELETE", f"/runs/{_q(run_id)}", Run)
        return result

    def restore_run(self, run_id: str) -> Run:
        """Bring a deleted run back."""
        result: Run = self._json("POST", f"/runs/{_q(run_id)}/restore", Run)
        return result

    def end_run(
        self,
        run_id: str,
        status: RunStatus | str,
        *,
        error: str | None = None,
        end_time: int | None = None,
        cpu_time: float | None = None,
        peak_memory_mb: float | None = None,
        params: Mapping[str, Any] | None = None,
        points: Sequence[MetricRow] = (),
    ) -> None:
        """End a run, with its last metric points."""
        body = {
            "status": status.value if isinstance(status, RunStatus) else status,
            "error": error,
            "end_time": end_time,
            "cpu_time": cpu_time,
            "peak_memory_mb": peak_memory_mb,
            "params": _plain(params or {}),
            "points": [[k, _finite(v), s, t] for k, v, s, t in check_metric_rows(points)],
        }
        self._send("POST", f"/runs/{_q(run_id)}/end", json=body)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Set params."""
        self._send("POST", f"/runs/{_q(run_id)}/params", json={"values": _plain(params)})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set tags."""
        self._send("POST", f"/runs/{_q(run_id)}/tags", json={"values": _plain(tags)})

    def log_metrics(self, run_id: str, points: Sequence[MetricRow]) -> None:
        """Append metric points."""
        rows = [[k, _finite(v), s, t] for k, v, s, t in check_metric_rows(points)]
        self._send("POST", f"/runs/{_q(run_id)}/metrics", json={"points": rows})

    def get_metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """One metric series."""
        path = f"/runs/{_q(run_id)}/metrics/{quote(key)}"
        result: list[MetricPoint] = []
        offset: str | None = "0"
        while offset is not None:  # the server answers in pages
            response = self._send("GET", path, params={"offset": offset})
            result += TypeAdapter(list[MetricPoint]).validate_json(response.content)
            offset = response.headers.get("x-relay-next-offset")
        return result

    def search_runs(
        self,
        project: str,
        *,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        experiments: Sequence[str] | None = None,
        include_deleted: bool = False,
    ) -> RunPage:
        """Search runs."""
        body = {
            "include_deleted": include_deleted,
            "filter": filter,
            "order_by": list(order_by or []),
            "max_results": max_results,
            "page_token": page_token,
            "experiments": list(experiments) if experiments else None,
        }
        path = f"/projects/{_q(project)}/runs/search"
        result: RunPage = self._json("POST", path, RunPage, json=body)
        return result

    # artifacts
    def log_artifact(self, run_id: str, path: str, source: str | Path | IO[bytes]) -> Artifact:
        """Upload a file or stream as a run artifact."""
        path = check_artifact_path(path)  # before the URL would normalise '..' away
        url = f"/runs/{_q(run_id)}/artifacts/{quote(path)}"
        if isinstance(source, str | Path):
            with open(source, "rb") as fh:
                result: Artifact = self._json("PUT", url, Artifact, content=_chunks(fh))
        else:
            result = self._json("PUT", url, Artifact, content=_chunks(source))
        return result

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """A run's artifacts."""
        params = {"prefix": prefix} if prefix else None
        path = f"/runs/{_q(run_id)}/artifacts"
        result: list[Artifact] = self._json("GET", path, list[Artifact], params=params)
        return result

    # audit
    def list_audit(self, query: AuditQuery | None = None, **filters: Any) -> list[AuditEntry]:
        """The newest audit entries matching a query (or the AuditQuery fields as keywords)."""
        params = (query or AuditQuery(**filters)).model_dump(exclude_none=True)
        result: list[AuditEntry] = self._json("GET", "/audit", list[AuditEntry], params=params)
        return result

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values JSON carries as they are; others (and NaN, ±inf) as the text the store keeps."""
    return {
        k: v
        if isinstance(v, str | int | bool)
        or v is None
        or (isinstance(v, float) and math.isfinite(v))
        else str(v)
        for k, v in values.items()
    }


def _chunks(fh: IO[bytes], size: int = 1024 * 1024) -> Any:
    while chunk := fh.read(size):
        yield chunk
