"""The SDK as a user writes it, in-process and against a real server."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import relayml as relay
from relayml.domain.entities import RunStatus
from relayml.errors import Conflict, InvalidInput
from tests.fixtures.auth import ADMIN_TOKEN, client_env


@pytest.fixture(params=["in-process", "http"])
def sdk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """relay.init() on a fresh embedded store, or against the test server."""
    project = f"sdk-{request.node.name.split('[')[0][-20:].replace('_', '-')}"
    project = project.strip("-") + f"-{id(request) % 100000}"
    if request.param == "http":
        request.getfixturevalue("monkeypatch").setenv("RELAY_TOKEN", ADMIN_TOKEN)
        relay.init(project=project, server_url=request.getfixturevalue("relay_server"))
    else:
        relay.init(project=project, home=tmp_path / "home")
    yield project
    relay.init(project="teardown", home=tmp_path / "teardown")  # closes the previous backend


def test_the_issue_example_works(sdk: str, tmp_path: Path) -> None:
    picture = tmp_path / "confusion.png"
    picture.write_bytes(b"\x89PNG...")
    with relay.start_run(experiment="baseline") as run:
        run.log_params({"max_depth": 3})
        run.log_metrics({"auc": 0.91}, step=1)
        run.log_artifact(picture)
    stored = relay.get_run(run.id)
    assert stored.status is RunStatus.FINISHED
    assert stored.params == {"max_depth": "3"} and stored.metrics == {"auc": 0.91}
    assert stored.experiment == "baseline" and stored.project == sdk
    assert stored.cpu_time is not None and stored.peak_memory_mb and stored.peak_memory_mb > 1
    assert stored.system["python"].startswith("3.")
    assert "relayml" in stored.system["packages"]
    assert stored.system["git"] == {} or len(stored.system["git"]["commit"]) == 40
    assert [a.path for a in relay.get_backend().list_artifacts(run.id)] == ["confusion.png"]


def test_an_exception_marks_the_run_failed_and_keeps_the_error(sdk: str) -> None:
    with pytest.raises(ZeroDivisionError), relay.start_run(experiment="broken") as run:
        run.log_metric("loss", 1.0)
        _ = 1 / 0
    stored = relay.get_run(run.id)
    assert stored.status is RunStatus.FAILED
    assert stored.error is not None and "ZeroDivisionError" in stored.error
    assert stored.metrics == {"loss": 1.0}  # what was logged before the error is kept


def test_metric_steps_count_up_per_key_and_flush_makes_them_durable(sdk: str) -> None:
    with relay.start_run() as run:
        for value in (0.9, 0.7, 0.4):
            run.log_metric("loss", value)
        run.log_metric("acc", 0.5, step=10)
        run.log_metric("acc", 0.6)
        run.flush()
        history = relay.get_backend().get_metric_history(run.id, "loss")
        assert [(p.step, p.value) for p in history] == [(0, 0.9), (1, 0.7), (2, 0.4)]
        assert [p.step for p in relay.get_backend().get_metric_history(run.id, "acc")] == [10, 11]


def test_bad_input_is_refused_at_the_call(sdk: str) -> None:
    with relay.start_run() as run:
        with pytest.raises(InvalidInput, match="must be a number"):
            run.log_metric("auc", "0.9")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="limit is 250"):
            run.log_metric("x" * 300, 1.0)
        run.log_param("lr", 0.1)
        with pytest.raises(Conflict, match="immutable"):
            run.log_param("lr", 0.2)
        with pytest.raises(InvalidInput, match="does not exist"):
            run.log_artifact("/no/such/file.txt")
        run.log_metric("nan", math.nan)
    assert math.isnan(relay.get_run(run.id).metrics["nan"])
    with pytest.raises(InvalidInput, match="has ended"):
        run.log_metric("late", 1.0)


def test_logging_from_many_threads_loses_nothing(sdk: str) -> None:
    with relay.start_run() as run:

        def work(t: int) -> None:
            for i in range(500):
                run.log_metric(f"thread{t}", float(i), step=i)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    stored = relay.get_run(run.id)
    assert stored.metrics == {f"thread{t}": 499.0 for t in range(8)}
    for t in range(8):
        assert len(relay.get_backend().get_metric_history(run.id, f"thread{t}")) == 500


def test_search_from_the_sdk(sdk: str) -> None:
    for depth in (2, 4, 8):
        with relay.start_run(experiment="grid") as run:
            run.log_params({"max_depth": depth, "model": "gbm"})
            run.log_metric("auc", 0.8 + depth / 100)
    page = relay.search_runs(
        filter="params.model = 'gbm' and metrics.auc >= 0.84", order_by=["metrics.auc DESC"]
    )
    assert [r.params["max_depth"] for r in page.runs] == ["8", "4"]


def test_folders_and_text_artifacts(sdk: str, tmp_path: Path) -> None:
    (tmp_path / "report" / "figs").mkdir(parents=True)
    (tmp_path / "report" / "index.html").write_text("<h1>hi</h1>")
    (tmp_path / "report" / "figs" / "a.svg").write_text("<svg/>")
    with relay.start_run() as run:
        run.log_artifacts(tmp_path / "report", "report")
        run.log_text("notes", "notes.txt")
    paths = [a.path for a in relay.get_backend().list_artifacts(run.id)]
    assert paths == ["notes.txt", "report/figs/a.svg", "report/index.html"]
    out = relay.download_artifact(run.id, "report", tmp_path / "back")
    assert (out / "figs" / "a.svg").read_text() == "<svg/>"


STORE_MODULES = ("sqlalchemy", "alembic", "psycopg", "pyarrow", "pandas", "numpy", "fastapi")

_CLIENT_SESSION = """
import sys
import relayml as relay
relay.init(project="light-client")
with relay.start_run(experiment="e") as run:
    run.log_params({"depth": 3})
    run.log_metrics({"auc": 0.9}, step=1)
    run.log_text("hello", "notes.txt")
assert relay.get_run(run.id).metrics == {"auc": 0.9}
relay.download_artifact(run.id, "notes.txt", sys.argv[1])
print(",".join(m for m in %r if m in sys.modules))
"""


def test_a_client_of_a_server_never_loads_the_store(relay_server: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, **client_env(relay_server), "RELAY_HOME": str(tmp_path / "h")}
    code = _CLIENT_SESSION % (STORE_MODULES,)
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "notes.txt")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "", f"a server's client loaded {out.stdout.strip()}"
    assert (tmp_path / "notes.txt").read_text() == "hello"
