"""The tracking part of the Backend port: projects, experiments, runs, artifacts, the audit list.

The part every command and script starts with. It is its own port so that what needs only this
(`relay runs list`, `relay projects show`) opens a backend without the model, monitoring and
governance services (see relayml.tracking.local), and so that mypy says when such a caller
reaches for more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
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

__all__ = ["MetricRow", "TrackingPort"]

# (key, value, step, timestamp in ms): the compact form metric points travel in.
MetricRow = tuple[str, float, int, int]


class TrackingPort(Protocol):
    """Projects, experiments, runs, artifacts and the audit list, whichever transport carries them.

    Same conventions as relayml.domain.ports.Backend, which includes this port: each method says
    what it does and which errors of relayml.errors it raises.
    """

    actor: str

    def with_actor(self, actor: str) -> Self:
        """The same backend acting for another user, sharing its store or server; raises nothing."""

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
        """Create a project; InvalidInput for a bad name or KPI, Conflict if the name is taken."""

    def get_project(self, name: str) -> Project:
        """A project by name; NotFound if there is none."""

    def list_projects(self) -> list[Project]:
        """Every project, by name; raises nothing."""

    def update_project(
        self,
        name: str,
        *,
        description: str | None = None,
        business_question: str | None = None,
        owner: str | None = None,
        kpis: Sequence[KPI | dict[str, Any]] | None = None,
    ) -> Project:
        """Change a project's description, question, owner or KPIs; NotFound, InvalidInput."""

    # experiments
    def create_experiment(self, project: str, name: str, *, description: str = "") -> Experiment:
        """Create an experiment; NotFound (project), InvalidInput (name), Conflict (exists)."""

    def get_experiment(self, project: str, name: str) -> Experiment:
        """An experiment by name; NotFound if the project or experiment is missing."""

    def list_experiments(self, project: str, *, include_deleted: bool = False) -> list[Experiment]:
        """A project's experiments (deleted ones if asked); NotFound if the project is missing."""

    def delete_experiment(self, project: str, name: str) -> Experiment:
        """Hide an experiment and its runs, restorably; NotFound, Conflict if already deleted."""

    def restore_experiment(self, project: str, name: str) -> Experiment:
        """Bring a deleted experiment back; NotFound, Conflict if it is not deleted."""

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
        """Start a run (its experiment is created if new); NotFound (project), InvalidInput."""

    def get_run(self, run_id: str) -> Run:
        """A run with its params, latest metrics and tags; NotFound for an unknown id."""

    def delete_run(self, run_id: str) -> Run:
        """Hide a run and refuse logging to it, restorably; NotFound, Conflict if deleted."""

    def restore_run(self, run_id: str) -> Run:
        """Bring a deleted run back; NotFound, Conflict if not deleted or its experiment is."""

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
        """End a run, storing its last params and points; NotFound, InvalidInput, Conflict."""

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Set params (immutable once set); NotFound, InvalidInput, Conflict on a changed value."""

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set tags (they may change); NotFound for an unknown run, InvalidInput for a bad key."""

    def log_metrics(self, run_id: str, points: Sequence[MetricRow]) -> None:
        """Append metric points; NotFound for an unknown run, InvalidInput for a bad key/value."""

    def get_metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """One metric series of a run, by step; NotFound for an unknown run."""

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
        """One page of runs matching a filter; NotFound (project), InvalidInput (filter, token)."""

    # artifacts
    def log_artifact(self, run_id: str, path: str, source: str | Path | IO[bytes]) -> Artifact:
        """Store a file or stream as a run artifact; NotFound, InvalidInput (path), Conflict."""

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """A run's artifacts under a prefix, by path; NotFound for an unknown run."""

    # audit
    def list_audit(self, query: AuditQuery | None = None, **filters: Any) -> list[AuditEntry]:
        """Newest audit entries matching a query, bounded, paged by before=; InvalidInput."""

    def close(self) -> None:
        """Release connections; raises nothing."""
