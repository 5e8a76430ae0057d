"""`relay import mlflow` on stores the real MLflow wrote: a SQLite store (MLflow 3.x), a file store
(MLflow 2.x) and a real `mlflow server`; checked through relayml's own API, imported twice,
interrupted and resumed; bad sources get one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from relayml.backend import LocalBackend
from relayml.cli import app
from relayml.config import get_settings
from relayml.domain.ports import Backend
from relayml.errors import SourceUnavailable
from relayml.imports import RUN_ID_TAG, STATUS_TAG, import_mlflow, open_mlflow_source
from relayml.interop.mlflow_registry import aliases_of
from relayml.models.publish import load_model
from tests.fixtures.auth import ADMIN, ADMIN_TOKEN
from tests.fixtures.mlflow_env import mlflow_python
from tests.fixtures.net import free_port, loopback, wait_for_port

WRITER = Path(__file__).parent / "mlflow_scripts" / "write_store.py"
X = pd.DataFrame([[0.0, 1.0], [1.0, 0.0]], columns=["x1", "x2"])
runner = CliRunner()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A SQLite store written by MLflow 3.x and served by a real `mlflow server`, and a file
    store written by MLflow 2.x; the server starts while 2.x writes."""
    root = tmp_path_factory.mktemp("mlflow-stores")
    (root / "v3").mkdir()
    (root / "v2").mkdir()
    db, mlruns, port = root / "v3" / "mlflow.db", root / "v2" / "mlruns", free_port()
    server = subprocess.Popen(
        [
            *(str(mlflow_python("3").parent / "mlflow"), "server", "--host", "127.0.0.1"),
            *("--port", str(port), "--workers", "1", "--backend-store-uri", f"sqlite:///{db}"),
        ],
        cwd=root / "v3",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no job workers
        start_new_session=True,
    )
    v2 = subprocess.Popen(
        [str(mlflow_python("2")), str(WRITER), mlruns.as_uri()],
        cwd=root / "v2",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=240)  # the server has made the tables
        v3 = subprocess.run(
            [str(mlflow_python("3")), str(WRITER), f"sqlite:///{db}", str(root / "v3" / "art")],
            cwd=root / "v3",
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert v3.returncode == 0, v3.stderr[-3000:]
        out, err = v2.communicate(timeout=240)
        assert v2.returncode == 0, err[-3000:]
        written3 = json.loads(v3.stdout.strip().splitlines()[-1])
        yield {
            "sqlite": (f"sqlite:///{db}", written3),
            "http": (f"http://127.0.0.1:{port}", written3),
            "file": (str(mlruns), json.loads(out.strip().splitlines()[-1])),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the uvicorn it started
        server.wait(timeout=30)
        if v2.poll() is None:
            v2.kill()
            v2.wait()


def _imported_runs(backend: Backend, project: str) -> dict[str, Any]:
    runs = backend.search_runs(project, max_results=1000, include_deleted=True).runs
    return {run.tags[RUN_ID_TAG]: run for run in runs}


def _mlflow_alias(backend: Backend, project: str, name: str, alias: str) -> int:
    """The version an MLflow alias names, as relay server's MLflow API reads it."""
    store = getattr(backend, "store", None)
    if store is not None:
        return aliases_of(store, project, name)[alias]
    answer = loopback.get(
        f"{backend.url}/api/2.0/mlflow/registered-models/alias",  # type: ignore[attr-defined]
        params={"name": name, "alias": alias},
        # the name may be held by several projects (as in the sqlite test): say which
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Relay-Project": project},
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["model_version"]["version"])


def check_everything_arrived(
    backend: Backend, project: str, written: dict[str, Any], scratch: Path
) -> None:
    """Every run, point, artifact byte, version, tag and alias the MLflow script wrote."""
    runs = _imported_runs(backend, project)
    assert sorted(runs) == sorted(written["runs"])
    for index, (mlflow_id, facts) in enumerate(written["runs"].items()):
        run = runs[mlflow_id]
        assert run.experiment == "churn-experiment" and run.name == facts["name"]
        assert run.status == "FINISHED" and run.tags[STATUS_TAG] == "complete"
        assert run.params == {"C": str(facts["C"]), "solver": "lbfgs"}
        assert run.tags["stage"] == "trial" and run.tags["index"] == str(index)
        assert run.tags["mlflow.runName"] == facts["name"]
        assert run.system["command"] == run.tags["mlflow.source.name"]
        assert int(run.start_time.timestamp() * 1000) == facts["start_time"]
        assert run.end_time is not None
        assert int(run.end_time.timestamp() * 1000) == facts["end_time"]
        loss = backend.get_metric_history(run.id, "loss")
        assert [(p.step, p.value) for p in loss] == [
            (step, 1.0 / (step + 1 + index)) for step in range(5)
        ]
        assert [p.timestamp for p in loss] == [1_700_000_000_000 + step * 1000 for step in range(5)]
        assert [p.value for p in backend.get_metric_history(run.id, "auc")] == [0.8 + index / 10]
        notes = backend.list_artifacts(run.id, "notes")
        assert [a.path for a in notes] == ["notes/readme.txt"]
        blob = backend.fetch_blob(notes[0].sha256, scratch / f"notes-{index}.txt")
        assert blob.read_bytes() == f"notes of run {index}\n".encode()
    versions = sorted(backend.list_model_versions(project, "churn"), key=lambda v: v.version)
    assert [v.details["mlflow"]["version"] for v in versions] == [1, 2]
    assert [v.details["mlflow"]["aliases"] for v in versions] == [[], ["champion"]]
    assert _mlflow_alias(backend, project, "churn", "champion") == versions[1].version
    assert versions[0].details["mlflow"]["tags"] == {"validated": "yes"}
    assert versions[1].details["mlflow"]["model_tags"] == {"owner": "risk-team"}
    for version, (mlflow_id, facts) in zip(versions, written["runs"].items(), strict=True):
        assert version.run_id == runs[mlflow_id].id and version.flavor == "sklearn"
        assert [c.name for c in version.signature.inputs] == ["x1", "x2"]
        assert "MLmodel" in {f.path for f in version.files}
        predictor = load_model(backend, project, version.ref)
        assert np.allclose(predictor.predict_proba(X), facts["proba"], rtol=1e-12, atol=0)


def test_sqlite_store_arrives_exactly_once(
    stores: dict[str, Any], backend: Backend, project: str, tmp_path: Path
) -> None:
    uri, written = stores["sqlite"]
    db = Path(uri.removeprefix("sqlite:///"))
    before = db.read_bytes()
    elsewhere = f"{project}-b"  # the same registered model name in another project first:
    backend.create_project(elsewhere)  # the aliases must still reach this project's model
    with open_mlflow_source(uri) as source:
        assert import_mlflow(backend, source, elsewhere).aliases_set == 1
    with open_mlflow_source(uri) as source:
        report = import_mlflow(backend, source, project)
    assert (report.runs_imported, report.versions_imported, report.artifacts) == (2, 2, 2)
    assert report.metric_points == 12 and report.params == 4 and report.aliases_set == 1
    check_everything_arrived(backend, project, written, tmp_path)
    assert db.read_bytes() == before  # MLflow opened a copy: the user's file is untouched
    audited = backend.list_audit(actor=ADMIN, limit=1000)
    run_ids = {run.id for run in _imported_runs(backend, project).values()}
    assert run_ids <= {e.entity_id for e in audited}
    assert any(e.entity_kind == "model_version" for e in audited)
    with open_mlflow_source(uri) as source:
        again = import_mlflow(backend, source, project)
    assert (again.runs_imported, again.runs_continued, again.versions_imported) == (0, 0, 0)
    assert (again.runs_present, again.versions_present, again.metric_points) == (2, 2, 0)
    assert again.aliases_set == 0  # already where MLflow has it: nothing written twice
    check_everything_arrived(backend, project, written, tmp_path)


@pytest.fixture
def broken_file_store(stores: dict[str, Any], tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """The file store with its newest run's artifact unreadable (put back afterwards).

    In place: a file store's runs name their artifact folders by absolute path."""
    mlruns = Path(stores["file"][0])
    newest = max(stores["file"][1]["runs"].items(), key=lambda item: item[1]["start_time"])[0]
    notes = next(mlruns.glob(f"*/{newest}/artifacts/notes/readme.txt"))
    kept = tmp_path / "readme.txt"
    notes.rename(kept)
    notes.symlink_to(tmp_path / "gone")  # a dangling link: listing or reading it fails
    yield mlruns, notes
    if notes.is_symlink():
        notes.unlink()
        kept.rename(notes)


def test_interrupted_file_store_import_resumes_without_duplicates(
    stores: dict[str, Any], broken_file_store: tuple[Path, Path], store_url: str, tmp_path: Path
) -> None:
    mlruns, notes = broken_file_store
    written = stores["file"][1]
    env = {"RELAY_HOME": str(tmp_path / "home"), "RELAY_DATABASE_URL": store_url}
    env |= {"RELAY_USER": "ada", "RELAY_SERVER_URL": "", "COLUMNS": "250"}
    failed = runner.invoke(app, ["import", "mlflow", "--from", str(mlruns), "-p", "old"], env=env)
    assert failed.exit_code == 1, failed.output
    error = failed.stderr.splitlines()[-1]  # after the progress bar, one line
    assert error.startswith("Error: reading the artifact list of run"), failed.stderr
    assert "run the same command again" in error and "Traceback" not in failed.output
    backend = LocalBackend(get_settings(home=tmp_path / "home", database_url=store_url))
    try:
        partial = _imported_runs(backend, "old")
        assert sorted(r.tags[STATUS_TAG] for r in partial.values()) == ["complete", "partial"]
        dry = runner.invoke(
            app,
            ["import", "mlflow", "--from", str(mlruns), "-p", "old", "--dry-run", "--json"],
            env=env,
        )
        plan = json.loads(dry.stdout)
        assert (plan["runs_present"], plan["runs_continued"], plan["runs_imported"]) == (1, 1, 0)
        assert plan["versions_imported"] == 2 and plan["dry_run"] is True
        assert backend.list_models("old") == []  # the dry run stored nothing
        notes.unlink()
        (tmp_path / "readme.txt").rename(notes)  # the store is readable again
        resumed = runner.invoke(
            app, ["import", "mlflow", "--from", str(mlruns), "-p", "old", "--json"], env=env
        )
        assert resumed.exit_code == 0, resumed.output
        report = json.loads(resumed.stdout)
        assert (report["runs_present"], report["runs_continued"]) == (1, 1)
        assert report["versions_imported"] == 2
        check_everything_arrived(backend, "old", written, tmp_path)
        some_run = next(iter(partial.values()))
        model_files = {a.path for a in backend.list_artifacts(some_run.id, "model")}
        assert "model/MLmodel" in model_files  # MLflow 2.x keeps models among run artifacts
        again = runner.invoke(
            app,
            ["import", "mlflow", "--from", str(mlruns), "-p", "old", "--dry-run", "--json"],
            env=env,
        )
        counts = json.loads(again.stdout)
        assert (counts["runs_imported"], counts["versions_imported"]) == (0, 0)
        assert len(backend.search_runs("old", include_deleted=True).runs) == 2
    finally:
        backend.close()


def test_a_real_mlflow_server_is_imported_over_http(stores: dict[str, Any], tmp_path: Path) -> None:
    url, written = stores["http"]
    backend = LocalBackend(get_settings(home=tmp_path / "home"))
    try:
        with open_mlflow_source(url) as source:
            report = import_mlflow(backend, source, "served")
        assert (report.runs_imported, report.versions_imported) == (2, 2)
        check_everything_arrived(backend, "served", written, tmp_path)
    finally:
        backend.close()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{tmp}/nowhere", "no folder at"),
        ("{tmp}/plain", "is not an MLflow file store"),
        ("sqlite:///{tmp}/plain/notes.db", "is not a SQLite database"),
        ("sqlite:///{tmp}/missing.db", "no SQLite file at"),
        ("ftp://example.org/mlruns", "the scheme 'ftp' is not supported"),
        ("http://127.0.0.1:{port}", "no MLflow tracking server answers at"),
    ],
)
def test_a_bad_source_is_one_line(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.db").write_text("not a database")
    where = source.format(tmp=tmp_path, port=free_port())
    env = {"RELAY_HOME": str(tmp_path / "home"), "RELAY_SERVER_URL": ""}
    result = runner.invoke(app, ["import", "mlflow", "--from", where], env=env)
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not (tmp_path / "home").exists()  # refused before relayml's store was opened


def test_without_mlflow_the_message_gives_the_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if mlflow-skinny were not installed
    env = {"RELAY_HOME": str(tmp_path / "home"), "RELAY_SERVER_URL": ""}
    result = runner.invoke(app, ["import", "mlflow", "--from", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert "pip install 'relayml[mlflow]'" in result.stderr


def test_a_failing_source_keeps_its_cause(stores: dict[str, Any]) -> None:
    failing = pytest.raises(SourceUnavailable, match="run the same command again")
    with open_mlflow_source(stores["file"][0]) as source, failing as caught:
        source.metric_history("0" * 32, "loss")
    assert caught.value.__cause__ is not None
