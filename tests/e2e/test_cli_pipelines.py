"""`relay pipelines run | show | list`: progress per step, cached steps, failures, bad input."""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from relayml.cli import app
from tests.fixtures.auth import client_env

runner = CliRunner()

FLOWS = """
import pandas as pd
import relayml as relay


@relay.step
def load(rows: int) -> pd.DataFrame:
    print("loading", rows)
    return pd.DataFrame({"age": range(rows)})


@relay.step(retries=1, backoff=0.01)
def clean(raw: pd.DataFrame, min_age: int = 18) -> pd.DataFrame:
    return raw[raw.age >= min_age].reset_index(drop=True)


@relay.step
def broken(table: pd.DataFrame) -> int:
    raise RuntimeError("the source is gone")


@relay.pipeline
def churn(rows: int = 40, min_age: int = 18, fail: bool = False):
    table = clean(load(rows), min_age=min_age)
    if fail:
        return {"n": broken(table)}
    return {"table": table}
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "flows.py").write_text(textwrap.dedent(FLOWS))
    return {"RELAY_HOME": str(tmp_path / "home"), "RELAY_PROJECT": "cli-pipelines"}


def relay(env: dict[str, str], *args: str) -> Result:
    return runner.invoke(app, list(args), env=env)


def test_run_shows_each_step_and_a_rerun_says_cached(env: dict[str, str], tmp_path: Path) -> None:
    target = f"{tmp_path / 'flows.py'}:churn"
    first = relay(env, "pipelines", "run", target, "--param", "rows=30", "-P", "min_age=21")
    assert first.exit_code == 0, first.output
    assert "load" in first.stderr and "done in" in first.stderr
    assert "FINISHED" in first.stdout and "(3 run, 0 cached of 3 steps)" not in first.stdout
    assert "(2 run, 0 cached of 2 steps)" in first.stdout

    again = relay(env, "pipelines", "run", target, "--param", "rows=30", "-P", "min_age=21")
    assert again.exit_code == 0, again.output
    assert "cached (skipped, outputs reused)" in again.stderr
    assert "(0 run, 2 cached of 2 steps)" in again.stdout

    forced = relay(env, "pipelines", "run", target, "-P", "rows=30", "-P", "min_age=21", "--force")
    assert forced.exit_code == 0, forced.output
    assert "(2 run, 0 cached of 2 steps)" in forced.stdout

    runs = json.loads(relay(env, "pipelines", "list", "--json").stdout)[1:]
    assert [r["status"] for r in runs] == ["FINISHED", "FINISHED"]
    assert runs[1]["params"] == {"rows": 30, "min_age": 21, "fail": False}
    shown = relay(env, "pipelines", "show", runs[1]["id"][:8], "--logs")
    assert shown.exit_code == 0, shown.output
    assert "peak memory" in shown.stdout and "miss" in shown.stdout and "pandas" in shown.stdout
    assert "loading 30" in shown.stdout
    cached = relay(env, "pipelines", "show", runs[0]["id"])
    assert "hit" in cached.stdout
    listed = relay(env, "pipelines", "list")
    assert "flows:churn" in listed.stdout and "2 (2 cached)" in listed.stdout


@pytest.mark.timeout(60, method="thread")  # a deadlock would also block a signal handler
def test_live_progress_on_a_terminal_with_printing_steps(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Rich redirects output while its display is live; steps that print must not deadlock."""
    target = f"{tmp_path / 'flows.py'}:churn"
    result = relay({**env, "FORCE_COLOR": "1", "COLUMNS": "120"}, "pipelines", "run", target)
    assert result.exit_code == 0, result.output
    assert "loading 40" in result.output and "done in" in result.output


def test_a_failing_step_exits_1_after_showing_the_steps(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = relay(env, "pipelines", "run", f"{tmp_path / 'flows.py'}:churn", "-P", "fail=yes")
    assert result.exit_code == 1
    assert "FAILED" in result.stdout and "RuntimeError: the source is gone" in result.stdout
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "Error: step 'broken' failed on its only attempt: RuntimeError: the source is gone"
        )
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "flows"], "does not name a pipeline; write module:pipeline"),
        (["run", "no_such_module:churn"], "cannot import module 'no_such_module'"),
        (["run", "{flows}:nope"], "flows.py:nope does not exist (pipelines in"),
        (["run", "{flows}:load"], "flows.py:load is not marked @relay.pipeline"),
        (["run", "{flows}:churn", "-P", "rowz=3"], "has no parameter 'rowz'"),
        (
            ["run", "{flows}:churn", "-P", "rows=many"],
            "rows='many': pipeline flows:churn expects int",
        ),
        (["run", "{flows}:churn", "-P", "rows"], "must look like key=value"),
        (["run", "{flows}:churn", "-x", "spark://x"], "executor 'spark://x' is not known"),
        (["show", "0123456789abcdef"], "pipeline run '0123456789abcdef' does not exist"),
    ],
)
def test_bad_input_is_one_error_line(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    flows = str(tmp_path / "flows.py")
    result = relay(env, "pipelines", *[a.replace("{flows}", flows) for a in args])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and message in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_run_list_show_through_a_relay_server(relay_server: str, tmp_path: Path) -> None:
    """With RELAY_SERVER_URL set, the steps run here and the server records the runs."""
    (tmp_path / "flows.py").write_text(textwrap.dedent(FLOWS))
    project = f"cli-pipes-{uuid.uuid4().hex[:8]}"
    env = {
        "RELAY_HOME": str(tmp_path / "client-home"),
        **client_env(relay_server),
        "RELAY_PROJECT": project,
    }
    target = f"{tmp_path / 'flows.py'}:churn"
    first = relay(env, "pipelines", "run", target, "-P", "rows=25")
    assert first.exit_code == 0, first.output
    again = relay(env, "pipelines", "run", target, "-P", "rows=25")
    assert again.exit_code == 0, again.output
    assert "(0 run, 2 cached of 2 steps)" in again.stdout

    listed = relay(env, "pipelines", "list", "--json")
    assert listed.exit_code == 0, listed.output
    runs = json.loads(listed.stdout)
    assert [r["status"] for r in runs] == ["FINISHED", "FINISHED"]
    assert all(r["project"] == project and r["created_by"] for r in runs)
    shown = relay(env, "pipelines", "show", runs[1]["id"][:8], "--logs")
    assert shown.exit_code == 0, shown.output
    assert "loading 25" in shown.stdout and "miss" in shown.stdout
    assert "hit" in relay(env, "pipelines", "show", runs[0]["id"]).stdout
    missing = relay(env, "pipelines", "show", "0123456789abcdef")
    assert missing.exit_code == 1
    assert "pipeline run '0123456789abcdef' does not exist" in missing.stderr

    failed = relay(env, "pipelines", "run", target, "-P", "fail=yes")
    assert failed.exit_code == 1
    assert "step 'broken' failed on its only attempt" in failed.stderr
    assert "Traceback" not in failed.output


def test_a_module_target_is_read_from_the_current_folder_not_an_earlier_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two folders, each with its own `flows` module: in one process (a notebook, the server,
    these tests), `flows:x` names the module in the folder the command runs from."""
    for name, pipeline in (("a", "first"), ("b", "second")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "flows.py").write_text(
            f"import relayml as relay\n\n\n@relay.pipeline\ndef {pipeline}():\n    return {{}}\n"
        )
    monkeypatch.setattr(sys, "path", list(sys.path))  # the command adds the current folder
    monkeypatch.chdir(tmp_path / "a")
    from relayml.cli.pipeline_target import load_pipeline

    assert load_pipeline("flows:first").fn.__name__ == "first"
    monkeypatch.chdir(tmp_path / "b")
    assert load_pipeline("flows:second").fn.__name__ == "second"
