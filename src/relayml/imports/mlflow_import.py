"""Import an MLflow store into a relayml project, resumably and without duplicates.

Everything goes through the Backend port, so the import writes to the embedded store or to a
`relay server` alike, and every object it creates is audited as any other write; MLflow aliases,
which the port does not carry, go through the store or the server's MLflow API
(mlflow_aliases.py).

Where each MLflow object lands, and the mark that tells the import it is already there:

| MLflow                     | relayml                                  | mark                   |
|----------------------------|------------------------------------------|------------------------|
| experiment                 | experiment (name made valid)             | its name               |
| run, params, tags, metrics | run with the same times, status, history | tag mlflow.run_id      |
| run artifacts              | run artifacts, same paths and bytes      | the artifact's path    |
| registered model version   | model version (files, flavor, signature) | details.mlflow.version |
| model and version tags,    | details.mlflow of the version            |                        |
| aliases (e.g. champion)    | and the MLflow alias, on the version     | alias already there    |
|                            | imported from MLflow's (mlflow_aliases)  |                        |

A run is tagged mlflow.import=partial when created and complete once its metrics, artifacts and
end are stored; an interrupted run is continued (missing points, files and end added), not
duplicated.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from relayml.domain.entities import Run, RunStatus
from relayml.domain.models import ModelFile, ModelVersion
from relayml.domain.ports import Backend, MetricRow
from relayml.errors import NotFound
from relayml.imports.mlflow_aliases import AliasBook, alias_book, import_aliases
from relayml.imports.mlflow_source import MlflowModel, MlflowRun, MlflowSource
from relayml.models.mlflow_format import read_mlflow_model

__all__ = [
    "RUN_ID_TAG",
    "STATUS_TAG",
    "ImportProgress",
    "ImportReport",
    "import_mlflow",
    "relay_name",
]

RUN_ID_TAG = "mlflow.run_id"
STATUS_TAG = "mlflow.import"
_BATCH = 5_000
_INVALID = re.compile(r"[^A-Za-z0-9_\-.]+")


class ImportProgress(Protocol):
    """What the importer tells its caller as it goes (the CLI draws a progress bar)."""

    def begin(self, total: int) -> None:
        """The number of runs and model versions the import walks through."""

    def advance(self, label: str) -> None:
        """One run or model version is done (imported, continued or already there)."""


class _Quiet:
    def begin(self, total: int) -> None:
        """Nothing to draw."""

    def advance(self, label: str) -> None:
        """Nothing to draw."""


@dataclass
class ImportReport:
    """What an import did (or, with dry_run, would do)."""

    source: str
    project: str
    dry_run: bool = False
    experiments_created: int = 0
    runs_imported: int = 0
    runs_continued: int = 0
    runs_present: int = 0
    metric_points: int = 0
    params: int = 0
    artifacts: int = 0
    versions_imported: int = 0
    versions_present: int = 0
    aliases_set: int = 0
    experiments: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able values."""
        return dict(self.__dict__)


def relay_name(name: str, fallback: str) -> str:
    """An MLflow name made into a valid relayml name ('churn exp' -> 'churn-exp')."""
    clean = _INVALID.sub("-", name).strip("-_.")[:200]
    return clean or fallback


def _imported_runs(backend: Backend, project: str) -> dict[str, Run]:
    """mlflow run id -> the relayml run imported from it, over the whole project."""
    found: dict[str, Run] = {}
    token = None
    while True:
        page = backend.search_runs(
            project, max_results=1000, page_token=token, include_deleted=True
        )
        for run in page.runs:
            if RUN_ID_TAG in run.tags:
                found[run.tags[RUN_ID_TAG]] = run
        token = page.next_page_token
        if not token:
            return found


def _imported_versions(backend: Backend, project: str, name: str) -> dict[int, ModelVersion]:
    """mlflow version number -> the relayml version imported from it."""
    try:
        versions = backend.list_model_versions(project, name)
    except NotFound:
        return {}
    found: dict[int, ModelVersion] = {}
    for version in versions:
        number = (version.details.get("mlflow") or {}).get("version")
        if isinstance(number, int):
            found[number] = version
    return found


class _Importer:
    def __init__(
        self, backend: Backend, source: MlflowSource, report: ImportReport, work: Path
    ) -> None:
        self.backend = backend
        self.source = source
        self.report = report
        self.project = report.project
        self.work = work
        self.run_ids: dict[str, str] = {}
        self.aliases: AliasBook | None = None

    def ensure_project(self) -> bool:
        try:
            self.backend.get_project(self.project)
            return True
        except NotFound:
            if not self.report.dry_run:
                self.backend.create_project(
                    self.project, description=f"Imported from MLflow at {self.source.label}."
                )
            return False

    def ensure_experiment(self, name: str, description: str, existing: set[str]) -> None:
        if name in existing:
            return
        existing.add(name)
        self.report.experiments_created += 1
        if not self.report.dry_run:
            self.backend.create_experiment(self.project, name, description=description)

    def import_run(self, run: MlflowRun, experiment: str, present: Run | None) -> None:
        if present is not None:
            self.run_ids[run.id] = present.id
            if present.tags.get(STATUS_TAG) == "complete":
                self.report.runs_present += 1
                return
        if self.report.dry_run:
            if present is None:
                self.report.runs_imported += 1
            else:
                self.report.runs_continued += 1
            return
        if present is None:
            created = self.backend.create_run(
                self.project,
                experiment,
                name=relay_name(run.name, f"run-{run.id[:8]}"),
                tags={**run.tags, RUN_ID_TAG: run.id, STATUS_TAG: "partial"},
                system=_system(run.tags),
                start_time=run.start_time,
            )
            run_id = created.id
            self.report.runs_imported += 1
        else:
            run_id = present.id
            self.report.runs_continued += 1
        self.run_ids[run.id] = run_id
        self.backend.log_params(run_id, run.params)
        self.report.params += len(run.params)
        for key in run.metric_keys:
            self._metrics(run, run_id, key, resuming=present is not None)
        self._artifacts(run, run_id, resuming=present is not None)
        status = RunStatus(run.status) if run.status in RunStatus.__members__ else None
        current = self.backend.get_run(run_id)
        if status is not None and status.is_terminal and not current.status.is_terminal:
            self.backend.end_run(run_id, status, end_time=run.end_time)
        self.backend.set_tags(run_id, {STATUS_TAG: "complete"})

    def _metrics(self, run: MlflowRun, run_id: str, key: str, *, resuming: bool) -> None:
        rows = self.source.metric_history(run.id, key)
        if resuming:  # the points stored before the interruption are the first ones, in order
            rows = rows[len(self.backend.get_metric_history(run_id, key)) :]
        for start in range(0, len(rows), _BATCH):
            batch: list[MetricRow] = rows[start : start + _BATCH]
            self.backend.log_metrics(run_id, batch)
        self.report.metric_points += len(rows)

    def _artifacts(self, run: MlflowRun, run_id: str, *, resuming: bool) -> None:
        stored = {a.path for a in self.backend.list_artifacts(run_id)} if resuming else set()
        for path, _size in self.source.artifacts(run.id):
            if path in stored:
                continue
            with tempfile.TemporaryDirectory(dir=self.work) as tmp:
                local = self.source.download_artifact(run.id, path, Path(tmp))
                self.backend.log_artifact(run_id, path, local)
            self.report.artifacts += 1

    def import_model(self, model: MlflowModel, progress: ImportProgress) -> None:
        name = relay_name(model.name, "model")
        present = _imported_versions(self.backend, self.project, name)
        for version in model.versions:
            label = f"{model.name} v{version.version}"
            if version.version in present:
                self.report.versions_present += 1
            elif self.report.dry_run:
                self.report.versions_imported += 1
            else:
                self._import_version(model, version.version, name)
                self.report.versions_imported += 1
            progress.advance(label)
        if model.aliases and not self.report.dry_run:
            imported = _imported_versions(self.backend, self.project, name)
            wanted = {a: imported[v].version for a, v in model.aliases.items() if v in imported}
            if self.aliases is None:
                self.aliases = alias_book(self.backend)
            self.report.aliases_set += import_aliases(self.aliases, self.project, name, wanted)

    def _import_version(self, model: MlflowModel, number: int, name: str) -> None:
        version = next(v for v in model.versions if v.version == number)
        with tempfile.TemporaryDirectory(dir=self.work) as tmp:
            folder = self.source.download_model(model.name, number, Path(tmp))
            described = read_mlflow_model(folder)
            files = []
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                sha256, size = self.backend.upload_blob(path)
                files.append(
                    ModelFile(path=path.relative_to(folder).as_posix(), sha256=sha256, size=size)
                )
        aliases = sorted(a for a, v in model.aliases.items() if v == number)
        details = {
            **described.details,
            "mlflow": {
                "source": self.source.label,
                "model": model.name,
                "version": number,
                "run_id": version.run_id,
                "artifact_source": version.source,
                "tags": version.tags,
                "aliases": aliases,
                "model_tags": model.tags,
                "model_description": model.description,
            },
        }
        self.backend.create_model_version(
            self.project,
            name,
            flavor=described.flavor,
            files=files,
            signature=described.signature,
            requirements=described.requirements,
            details=details,
            run_id=self.run_ids.get(version.run_id or ""),
            description=version.description,
        )


def _system(tags: dict[str, str]) -> dict[str, Any]:
    """The context MLflow recorded in its tags, in the shape relayml captures it."""
    git = {
        key: tags[f"mlflow.source.git.{key}"]
        for key in ("commit", "branch")
        if tags.get(f"mlflow.source.git.{key}")
    }
    system: dict[str, Any] = {"git": git} if git else {}
    if tags.get("mlflow.source.name"):
        system["command"] = tags["mlflow.source.name"]
    return system


def _experiment_description(experiment_id: str, name: str, tags: dict[str, str]) -> str:
    note = tags.get("mlflow.note.content", "")
    shown = ", ".join(f"{k}={v}" for k, v in sorted(tags.items()) if not k.startswith("mlflow."))
    text = note or f"Imported from MLflow experiment {experiment_id} ({name!r})."
    return f"{text} Tags: {shown}." if shown else text


def _plan(source: MlflowSource) -> Iterator[tuple[str, str, list[MlflowRun]]]:
    for experiment in source.experiments():
        runs = list(source.runs(experiment.id))
        if not runs and experiment.id == "0":
            continue  # MLflow's empty Default experiment
        name = relay_name(experiment.name, f"experiment-{experiment.id}")
        yield name, _experiment_description(experiment.id, experiment.name, experiment.tags), runs


def import_mlflow(
    backend: Backend,
    source: MlflowSource,
    project: str,
    *,
    dry_run: bool = False,
    progress: ImportProgress | None = None,
) -> ImportReport:
    """Bring an MLflow store's experiments, runs and models into a project (created if new).

    Runs and versions already imported are left alone; a run interrupted midway is completed.
    Raises SourceUnavailable when MLflow's store fails, and what the Backend raises.
    """
    progress = progress or _Quiet()
    report = ImportReport(source=source.label, project=project, dry_run=dry_run)
    with tempfile.TemporaryDirectory(prefix="relay-mlflow-files-") as tmp:
        importer = _Importer(backend, source, report, Path(tmp))
        exists = importer.ensure_project()
        plan = list(_plan(source))
        models = source.models()
        progress.begin(sum(len(runs) for _, _, runs in plan) + sum(len(m.versions) for m in models))
        done = _imported_runs(backend, project) if exists else {}
        names = (
            {e.name for e in backend.list_experiments(project, include_deleted=True)}
            if exists
            else set()
        )
        for name, description, runs in plan:
            report.experiments.append(name)
            importer.ensure_experiment(name, description, names)
            for run in runs:
                importer.import_run(run, name, done.get(run.id))
                progress.advance(f"run {run.name or run.id}")
        for model in models:
            importer.import_model(model, progress)
    return report
