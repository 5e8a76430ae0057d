"""Reading an MLflow store through MLflow's own client (mlflow-skinny, the `mlflow` extra).

One reader serves every kind of store MLflow itself reads: a tracking server (http(s)://), a
SQLite file (sqlite:///mlflow.db) and a file store folder (./mlruns). MLflow's client and store
classes do the parsing, so the on-disk formats of every MLflow release they read are read right.

Two precautions keep the user's store untouched: a SQLite file is copied before it is opened
(MLflow upgrades a database's schema when it opens one), and the file store, which MLflow 3.x
refuses by default, is allowed for this process only (MLFLOW_ALLOW_FILE_STORE).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from relayml.domain.ports import MetricRow
from relayml.errors import InvalidInput, MissingDependency, RelayError, SourceUnavailable

__all__ = [
    "MlflowExperiment",
    "MlflowModel",
    "MlflowModelVersion",
    "MlflowRun",
    "MlflowSource",
    "open_mlflow_source",
]

_FORMS = (
    "give a tracking server (http://host:5000), a SQLite file (sqlite:///mlflow.db) or an "
    "mlruns folder (./mlruns)"
)
_PAGE = 1000


@dataclass(frozen=True)
class MlflowExperiment:
    """An MLflow experiment: its id, name and tags."""

    id: str
    name: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MlflowRun:
    """An MLflow run's info and data, without its metric history."""

    id: str
    experiment_id: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    params: dict[str, str]
    tags: dict[str, str]
    metric_keys: list[str]


@dataclass(frozen=True)
class MlflowModelVersion:
    """A version of an MLflow registered model."""

    model: str
    version: int
    run_id: str | None
    source: str
    description: str
    tags: dict[str, str]


@dataclass(frozen=True)
class MlflowModel:
    """An MLflow registered model with its aliases (alias -> version) and versions."""

    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    versions: list[MlflowModelVersion]


def _load_mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise MissingDependency.for_extra(
            "mlflow-skinny", "mlflow", "Importing from MLflow"
        ) from exc
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return mlflow


def _local_path(text: str) -> Path:
    return Path(urlparse(text).path if text.startswith("file:") else text).expanduser()


def _resolve(location: str, workdir: Path) -> tuple[str, str]:
    """(tracking URI MLflow opens, what to call the source in messages)."""
    text = location.strip()
    scheme = urlparse(text).scheme.lower()
    if scheme in ("http", "https"):
        if not urlparse(text).netloc:
            raise InvalidInput(f"{location!r} has no host; {_FORMS}.")
        _reach(text.rstrip("/"))
        return text.rstrip("/"), text
    if scheme == "sqlite" or (scheme == "" and text.endswith((".db", ".sqlite"))):
        path = Path(text.split(":///", 1)[1] if scheme else text).expanduser()
        if not path.is_file():
            raise InvalidInput(f"no SQLite file at {path}; {_FORMS}.")
        if path.read_bytes()[:16] != b"SQLite format 3\x00":
            raise InvalidInput(f"{path} is not a SQLite database; {_FORMS}.")
        copy = workdir / "mlflow.db"
        shutil.copyfile(path, copy)  # MLflow upgrades the schema of what it opens: not yours
        return f"sqlite:///{copy}", str(path)
    if scheme in ("", "file"):
        path = _local_path(text).resolve()
        if not path.is_dir():
            raise InvalidInput(f"no folder at {path}; {_FORMS}.")
        if not any(path.glob("*/meta.yaml")) and not (path / "models").is_dir():
            raise InvalidInput(
                f"{path} is not an MLflow file store (no <experiment>/meta.yaml in it); {_FORMS}."
            )
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # read only; MLflow 3 asks for it
        return path.as_uri(), str(path)
    raise InvalidInput(
        f"cannot import from {location!r}: the scheme {scheme!r} is not supported; {_FORMS} "
        "(for a database MLflow server, give the server's URL)."
    )


def _reach(url: str) -> None:
    """InvalidInput at once when nothing answers at url (MLflow's client retries for minutes)."""
    import httpx

    from relayml.tls import tls_context

    try:
        httpx.get(
            f"{url}/api/2.0/mlflow/experiments/search",
            params={"max_results": 1},
            timeout=10,
            verify=tls_context(),
        )
    except httpx.HTTPError as exc:
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InvalidInput(
            f"no MLflow tracking server answers at {url} ({detail}); start it, or {_FORMS}."
        ) from exc


class MlflowSource:
    """What the importer reads from one MLflow store; read failures raise SourceUnavailable."""

    def __init__(self, mlflow: Any, uri: str, label: str) -> None:
        from mlflow import MlflowClient

        self._mlflow = mlflow
        self.uri = uri
        self.label = label
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    @contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        try:
            with warnings.catch_warnings():
                # MLflow's own deprecation notices (e.g. from SQLAlchemy) are not the user's
                warnings.simplefilter("ignore")
                yield
        except RelayError:
            raise
        except Exception as exc:  # MLflow, requests and OS errors: one line, the cause kept
            detail = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise SourceUnavailable(
                f"reading {what} from MLflow at {self.label} failed: {detail}. Fix it and run "
                "the same command again: the import continues where it stopped."
            ) from exc

    def experiments(self) -> list[MlflowExperiment]:
        """The active experiments, by id."""
        with self._reading("the experiments"):
            found = self._client.search_experiments(max_results=50_000)
        return sorted(
            (
                MlflowExperiment(id=str(e.experiment_id), name=e.name, tags=dict(e.tags))
                for e in found
            ),
            key=lambda e: (len(e.id), e.id),
        )

    def runs(self, experiment_id: str) -> Iterator[MlflowRun]:
        """An experiment's active runs, oldest first."""
        token = None
        while True:
            with self._reading(f"the runs of experiment {experiment_id}"):
                page = self._client.search_runs(
                    [experiment_id],
                    max_results=_PAGE,
                    order_by=["attributes.start_time ASC"],
                    page_token=token,
                )
            for run in page:
                info, data = run.info, run.data
                yield MlflowRun(
                    id=info.run_id,
                    experiment_id=str(info.experiment_id),
                    name=info.run_name or "",
                    status=str(info.status),
                    start_time=int(info.start_time or 0),
                    end_time=int(info.end_time) if info.end_time else None,
                    params=dict(data.params),
                    tags=dict(data.tags),
                    metric_keys=sorted(data.metrics),
                )
            token = page.token
            if not token:
                return

    def metric_history(self, run_id: str, key: str) -> list[MetricRow]:
        """Every point of one metric of a run, by step, then time."""
        with self._reading(f"metric {key!r} of run {run_id}"):
            points = self._client.get_metric_history(run_id, key)
        rows = [(key, float(p.value), int(p.step), int(p.timestamp)) for p in points]
        return sorted(rows, key=lambda row: (row[2], row[3]))

    def artifacts(self, run_id: str, path: str | None = None) -> list[tuple[str, int]]:
        """(path, size) of every artifact file of a run, recursively."""
        with self._reading(f"the artifact list of run {run_id}"):
            entries = self._client.list_artifacts(run_id, path)
        files: list[tuple[str, int]] = []
        for entry in entries:
            if entry.is_dir:
                files.extend(self.artifacts(run_id, entry.path))
            else:
                files.append((entry.path, int(entry.file_size or 0)))
        return files

    def download_artifact(self, run_id: str, path: str, dest: Path) -> Path:
        """Download one artifact file of a run into dest."""
        with self._reading(f"artifact {path!r} of run {run_id}"):
            local = self._client.download_artifacts(run_id, path, str(dest))
        return Path(local)

    def models(self) -> list[MlflowModel]:
        """The registered models with their versions (oldest first) and aliases."""
        models: list[MlflowModel] = []
        token = None
        while True:
            with self._reading("the registered models"):
                page = self._client.search_registered_models(max_results=_PAGE, page_token=token)
            for model in page:
                models.append(
                    MlflowModel(
                        name=model.name,
                        description=model.description or "",
                        tags=dict(model.tags),
                        aliases={str(a): int(v) for a, v in (model.aliases or {}).items()},
                        versions=self._versions(model.name),
                    )
                )
            token = page.token
            if not token:
                return models

    def _versions(self, name: str) -> list[MlflowModelVersion]:
        quote = '"' if "'" in name else "'"
        with self._reading(f"the versions of model {name!r}"):
            found = self._client.search_model_versions(f"name={quote}{name}{quote}")
        versions = [
            MlflowModelVersion(
                model=name,
                version=int(v.version),
                run_id=v.run_id or None,
                source=str(v.source or ""),
                description=v.description or "",
                tags=dict(v.tags),
            )
            for v in found
        ]
        return sorted(versions, key=lambda v: v.version)

    def download_model(self, name: str, version: int, dest: Path) -> Path:
        """Download a model version's files (its MLmodel folder) into dest."""
        with self._reading(f"the files of model {name!r} version {version}"):
            uri = self._client.get_model_version_download_uri(name, str(version))
            local = self._mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=str(dest), tracking_uri=self.uri
            )
        return Path(local)


@contextmanager
def open_mlflow_source(location: str) -> Iterator[MlflowSource]:
    """An MLflow store to read, checked to answer; InvalidInput, MissingDependency."""
    mlflow = _load_mlflow()
    with tempfile.TemporaryDirectory(prefix="relay-mlflow-import-") as tmp:
        uri, label = _resolve(location, Path(tmp))
        source = MlflowSource(mlflow, uri, label)
        try:
            source.experiments()
        except SourceUnavailable as exc:
            cause = " ".join(str(exc.__cause__ or exc).split())[:200]
            raise InvalidInput(f"cannot read MLflow at {label}: {cause}; {_FORMS}.") from exc
        yield source
