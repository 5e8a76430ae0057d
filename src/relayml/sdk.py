"""The SDK's session: ``import relayml as relay``; which store or server, which project.

relay.init(project="churn")            # or RELAY_PROJECT, RELAY_SERVER_URL, ...
relay.search_runs("metrics.auc > 0.9")
relay.download_artifact(run_id, "model", "./model")

Runs are logged through relayml.sdk_runs (relay.start_run); datasets through sdk_data, models
through sdk_models. One session per process, reset in a forked child.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relayml.config import Settings, get_settings
from relayml.domain.entities import KPI, Project, Run, RunPage, RunStatus
from relayml.domain.ports import Backend
from relayml.domain.validation import (
    check_artifact_path,
)
from relayml.errors import Conflict, NotFound
from relayml.pipelines.context import use_defaults
from relayml.tracking.buffer import MetricBuffer

if TYPE_CHECKING:
    from relayml.sdk_runs import ActiveRun

__all__ = [
    "current_project",
    "download_artifact",
    "flush",
    "get_backend",
    "get_run",
    "init",
    "search_runs",
]


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.settings: Settings | None = None
        self.backend: Backend | None = None
        self.buffer: MetricBuffer | None = None
        self.project: str | None = None
        self.runs: list[ActiveRun] = []


_state = _State()


def _reset_after_fork() -> None:
    global _state
    _state = _State()


os.register_at_fork(after_in_child=_reset_after_fork)


def init(
    project: str | None = None,
    *,
    home: str | Path | None = None,
    database_url: str | None = None,
    artifacts_url: str | None = None,
    server_url: str | None = None,
    user: str | None = None,
    description: str | None = None,
    business_question: str | None = None,
    kpis: Sequence[KPI | dict[str, Any]] | None = None,
    update: bool = False,
) -> Project:
    """Choose the store (or server) and the project; the project is created if missing.

    The description, business question and KPIs given are the new project's. For a project that
    exists, values other than its own are refused (Conflict) unless update=True: what the
    project's owner set is not rewritten by any script that runs init.
    """
    settings = get_settings(
        home=home,
        database_url=database_url,
        artifacts_url=artifacts_url,
        server_url=server_url,
        user=user,
    )
    from relayml.transport import open_backend

    with _state.lock:
        _shutdown(end_runs=True)
        _state.settings = settings
        _state.backend = open_backend(settings)
        _state.buffer = MetricBuffer(
            _state.backend, settings.metric_flush_interval, settings.metric_batch_size
        )
        _state.project = project or settings.project
        backend = _state.backend
    name = _state.project
    try:
        found = backend.get_project(name)
    except NotFound:
        try:
            return backend.create_project(
                name,
                description=description or "",
                business_question=business_question or "",
                kpis=kpis or (),
            )
        except Conflict:  # another process created it meanwhile
            found = backend.get_project(name)
    changed = _changed_fields(found, description, business_question, kpis)
    if not changed:
        return found
    if not update:
        raise Conflict(
            f"relay.init() would change the {' and '.join(changed)} of project {name!r}, "
            "which its owner set. Pass update=True to change them on purpose, or change them "
            f"with `relay projects update {name}` (one KPI: "
            f"`relay projects kpi set KPI -p {name}`)."
        )
    return backend.update_project(
        name, description=description, business_question=business_question, kpis=kpis
    )


def _changed_fields(
    found: Project,
    description: str | None,
    business_question: str | None,
    kpis: Sequence[KPI | dict[str, Any]] | None,
) -> list[str]:
    """Which of the given fields differ from the project's own (None: not given)."""
    changed = []
    if description is not None and description != found.description:
        changed.append("description")
    if business_question is not None and business_question != found.business_question:
        changed.append("business question")
    if kpis is not None:
        try:
            given = [KPI.model_validate(k).model_dump() for k in kpis]
        except ValueError:  # not KPIs: an update refuses them with the store's message
            changed.append("KPIs")
        else:
            if given != [k.model_dump() for k in found.kpis]:
                changed.append("KPIs")
    return changed


def session() -> tuple[Backend, MetricBuffer, str]:
    """(backend, metric buffer, current project), opening the default session if none is."""
    with _state.lock:
        if _state.backend is None:
            init()
        assert _state.backend is not None and _state.buffer is not None
        assert _state.project is not None
        return _state.backend, _state.buffer, _state.project


def current_project() -> str:
    """The project relay.init() chose."""
    return session()[2]


def track_run(run: ActiveRun) -> None:
    """Count a started run among this session's open runs (ended at exit or at the next init)."""
    with _state.lock:
        _state.runs.append(run)


def forget_run(run: ActiveRun) -> None:
    """Drop an ended run from this session's open runs."""
    with _state.lock:
        if run in _state.runs:
            _state.runs.remove(run)


def latest_run() -> ActiveRun | None:
    """The most recently started run of this session that has not ended, if any."""
    with _state.lock:
        return _state.runs[-1] if _state.runs else None


def get_backend() -> Backend:
    """The backend the SDK talks to (in-process store or HTTP server)."""
    return session()[0]


def download_artifact(
    run_id: str, path: str, dest: str | Path, *, backend: Backend | None = None
) -> Path:
    """Download one artifact to dest, or a folder of them into dest, each verified by sha256."""
    backend = backend or get_backend()
    path = check_artifact_path(path)
    found = backend.list_artifacts(run_id, path)
    dest = Path(dest)
    exact = [a for a in found if a.path == path]
    if exact:
        target = dest / path.rsplit("/", 1)[-1] if dest.is_dir() else dest
        return backend.fetch_blob(exact[0].sha256, target)
    if not found:
        known = [a.path for a in backend.list_artifacts(run_id)][:20]
        raise NotFound(
            f"run {run_id} has no artifact or folder {path!r} "
            f"(it has: {', '.join(known) or 'none'})."
        )
    for artifact in found:
        # checked again: a row written by hand, or a server that lies, must not lead out of dest
        relative = check_artifact_path(artifact.path[len(path) + 1 :])
        backend.fetch_blob(artifact.sha256, dest / relative)
    return dest


def flush() -> None:
    """Block until every queued metric point of every run is stored."""
    with _state.lock:
        buffer = _state.buffer
    if buffer is not None:
        buffer.flush()


def get_run(run_id: str) -> Run:
    """A run by id, with its params, latest metrics and tags."""
    flush()
    return session()[0].get_run(run_id)


def search_runs(
    filter: str | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int = 100,
    *,
    page_token: str | None = None,
    project: str | None = None,
    experiments: Sequence[str] | None = None,
    include_deleted: bool = False,
) -> RunPage:
    """Runs of the project matching a filter (grammar: docs/tracking.md), one page at a time."""
    backend, _, current = session()
    flush()
    return backend.search_runs(
        project or current,
        filter=filter,
        order_by=order_by,
        max_results=max_results,
        page_token=page_token,
        experiments=experiments,
        include_deleted=include_deleted,
    )


def _shutdown(end_runs: bool) -> None:
    with _state.lock:
        runs = list(_state.runs)
    if end_runs:
        for run in reversed(runs):
            try:
                run.end(RunStatus.FINISHED)
            except Exception:
                pass
    with _state.lock:
        if _state.buffer is not None:
            _state.buffer.close()
        if _state.backend is not None:
            _state.backend.close()
        _state.buffer = None
        _state.backend = None
        _state.runs = []


atexit.register(_shutdown, True)


# pipelines: relay.pipeline and relay.step record to the backend and project of relay.init()
def _pipeline_defaults() -> tuple[Backend, str]:
    backend, _buffer, project = session()
    return backend, project


use_defaults(_pipeline_defaults)
