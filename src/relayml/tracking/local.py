"""LocalTracking: the tracking part of the service operations, in-process, on a Store.

Projects, experiments, runs, artifacts and the audit list (relayml.domain.ports_tracking's
TrackingPort). LocalBackend (relayml.backend) adds every other service on top of it; what needs
only tracking (`relay runs list`) opens this class alone and loads none of the model,
monitoring, lineage or governance services.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self

from relayml import projects as project_service
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
from relayml.domain.ports_tracking import MetricRow
from relayml.domain.validation import check_metric_rows
from relayml.governance import audit
from relayml.store import Store
from relayml.tracking import artifacts as artifact_service
from relayml.tracking import experiments as experiment_service
from relayml.tracking import runs as run_service
from relayml.tracking.search import search_runs

if TYPE_CHECKING:
    from relayml.artifacts import BlobStore

__all__ = ["LocalTracking"]


class LocalTracking:
    """Projects, experiments, runs, artifacts and the audit list, in this process."""

    def __init__(self, settings: Settings, *, store: Store | None = None) -> None:
        self.settings = settings
        self.actor = settings.user
        self.store = store or Store(settings.resolved_database_url)

    def open_blobs(self) -> BlobStore:
        """The artifact store the settings name (fsspec is loaded then)."""
        from relayml.artifacts import BlobStore

        return BlobStore(self.settings.resolved_artifacts_url, self.settings.artifacts_options)

    if TYPE_CHECKING:
        blobs: BlobStore  # as the service mixins declare it
    else:

        @cached_property
        def blobs(self) -> BlobStore:
            """The artifact store, opened on first use: listing runs needs none."""
            return self.open_blobs()

    def with_actor(self, actor: str) -> Self:
        """The same backend acting for another user (sharing the store and the artifacts)."""
        if "blobs" not in vars(self):
            self.blobs = self.open_blobs()  # before the copy, so that every view shares one
        view = copy.copy(self)
        view.actor = actor
        return view

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
        return project_service.create_project(
            self.store,
            self.actor,
            name,
            description=description,
            business_question=business_question,
            owner=owner,
            kpis=kpis,
        )

    def get_project(self, name: str) -> Project:
        """A project by name."""
        return project_service.get_project(self.store, name)

    def list_projects(self) -> list[Project]:
        """Every project."""
        return project_service.list_projects(self.store)

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
        return project_service.update_project(
            self.store,
            self.actor,
            name,
            description=description,
            business_question=business_question,
            owner=owner,
            kpis=kpis,
        )

    # experiments
    def create_experiment(self, project: str, name: str, *, description: str = "") -> Experiment:
        """Create an experiment."""
        return experiment_service.create_experiment(
            self.store, self.actor, project, name, description=description
        )

    def get_experiment(self, project: str, name: str) -> Experiment:
        """An experiment by name."""
        return experiment_service.get_experiment(self.store, project, name)

    def list_experiments(self, project: str, *, include_deleted: bool = False) -> list[Experiment]:
        """A project's experiments."""
        return experiment_service.list_experiments(
            self.store, project, include_deleted=include_deleted
        )

    def delete_experiment(self, project: str, name: str) -> Experiment:
        """Hide an experiment and its runs."""
        return experiment_service.delete_experiment(self.store, self.actor, project, name)

    def restore_experiment(self, project: str, name: str) -> Experiment:
        """Bring a deleted experiment back."""
        return experiment_service.restore_experiment(self.store, self.actor, project, name)

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
        return run_service.create_run(
            self.store,
            self.actor,
            project,
            experiment,
            name=name,
            tags=tags,
            system=system,
            start_time=start_time,
        )

    def get_run(self, run_id: str) -> Run:
        """A run by id."""
        return run_service.get_run(self.store, run_id)

    def delete_run(self, run_id: str) -> Run:
        """Hide a run and refuse logging to it."""
        return run_service.delete_run(self.store, self.actor, run_id)

    def restore_run(self, run_id: str) -> Run:
        """Bring a deleted run back."""
        return run_service.restore_run(self.store, self.actor, run_id)

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
        """End a run, storing its last metric points in the same transaction."""
        run_service.end_run(
            self.store,
            self.actor,
            run_id,
            status,
            error=error,
            end_time=end_time,
            cpu_time=cpu_time,
            peak_memory_mb=peak_memory_mb,
            params=params,
            points=check_metric_rows(points) if points else (),
        )

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Set params."""
        run_service.log_params(self.store, self.actor, run_id, params)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set tags."""
        run_service.set_tags(self.store, self.actor, run_id, tags)

    def log_metrics(self, run_id: str, points: Sequence[MetricRow]) -> None:
        """Append metric points."""
        run_service.log_metrics(self.store, self.actor, run_id, check_metric_rows(points))

    def get_metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """One metric series."""
        return run_service.get_metric_history(self.store, run_id, key)

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
        return search_runs(
            self.store,
            project,
            filter=filter,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
            experiments=experiments,
            include_deleted=include_deleted,
        )

    # artifacts
    def log_artifact(self, run_id: str, path: str, source: str | Path | IO[bytes]) -> Artifact:
        """Store a file or stream as a run artifact."""
        return artifact_service.upload_artifact(
            self.store, self.blobs, self.actor, run_id, path, source
        )

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """A run's artifacts."""
        return artifact_service.list_artifacts(self.store, run_id, prefix)

    def open_artifact(self, run_id: str, path: str) -> tuple[Artifact, Any]:
        """An artifact and an iterator over its verified bytes (for the HTTP server)."""
        artifact = artifact_service.get_artifact(self.store, run_id, path)
        return artifact, self.blobs.iter_chunks(artifact.sha256)

    # audit
    def list_audit(self, query: AuditQuery | None = None, **filters: Any) -> list[AuditEntry]:
        """The newest audit entries matching a query (or the AuditQuery fields as keywords)."""
        with self.store.read() as conn:
            return audit.list_entries(conn, query or AuditQuery(**filters))

    def close(self) -> None:
        """Release database connections."""
        self.store.dispose()
