"""What the `relay` command line imports: help loads no data or database library, and a command
on the embedded store loads only what it computes (issue #11: CLI start-up time).

Each check runs in a fresh interpreter and reads its sys.modules; timings live in
benchmarks/cli.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

# Data, statistics and database libraries, and the servers' stacks: none is needed to parse a
# command line or print help.
HEAVY = (
    "pandas", "pyarrow", "sklearn", "scipy", "numpy", "sqlalchemy", "alembic", "httpx",
    "fastapi", "uvicorn", "dask", "fsspec",
)  # fmt: skip
# What reading the embedded store may not load (SQLAlchemy and fsspec it needs).
NOT_FOR_READING = (
    "pandas", "pyarrow", "sklearn", "scipy", "numpy", "alembic", "httpx", "fastapi", "uvicorn",
    "dask",
)  # fmt: skip

# Runs `relay ARGS...` (argv after the script) in this interpreter, output discarded, then
# prints the exit code and the heavy modules loaded, as JSON.
RUN_ONE = """
import contextlib, io, json, sys
heavy = json.loads(sys.argv[1])
from relayml.cli import app
from typer.main import get_command
sink = io.StringIO()
with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
    try:
        get_command(app).main(sys.argv[2:], prog_name="relay")
        code = 0
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules],
                  "output": sink.getvalue()}))
"""

# Prints `--help` of every command and group, one after the other in one interpreter, and the
# heavy modules each one loaded first.
EVERY_HELP = """
import contextlib, io, json, sys
heavy = json.loads(sys.argv[1])
from relayml.cli import app
from typer.main import get_command
root = get_command(app)
paths = []
def walk(command, path):
    paths.append(path)
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        walk(sub, [*path, name])
walk(root, [])
report = {}
for path in paths:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            root.main([*path, "--help"], prog_name="relay")
        except SystemExit as exc:
            if exc.code != 0:
                report[" ".join(path)] = f"exit {exc.code}: {sink.getvalue()[-300:]}"
    if "Usage: relay" not in sink.getvalue():
        report[" ".join(path)] = "no usage line"
    loaded = [m for m in heavy if m in sys.modules]
    if loaded:
        report[" ".join(path)] = loaded
        break
print(json.dumps({"commands": len(paths), "problems": report}))
"""


def _python(code: str, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _relay(args: list[str], heavy: tuple[str, ...], home: Path) -> dict[str, object]:
    env = {**os.environ, "RELAY_HOME": str(home), "RELAY_PROJECT": "startup"}
    for name in ("RELAY_SERVER_URL", "RELAY_DATABASE_URL", "RELAY_ARTIFACTS_URL"):
        env.pop(name, None)
    return _python(RUN_ONE, json.dumps(heavy), *args, env=env)


def test_importing_the_cli_and_its_help_load_no_heavy_library(tmp_path: Path) -> None:
    code = (
        "import json, sys, relayml.cli\n"
        f"print(json.dumps({{'loaded': [m for m in {HEAVY!r} if m in sys.modules]}}))"
    )
    assert _python(code) == {"loaded": []}
    result = _relay(["--help"], HEAVY, tmp_path)
    assert result["code"] == 0
    assert "Usage: relay" in str(result["output"])
    assert result["loaded"] == []


def test_the_help_of_every_command_loads_no_heavy_library() -> None:
    result = _python(EVERY_HELP, json.dumps(HEAVY))
    assert result["problems"] == {}
    assert isinstance(result["commands"], int) and result["commands"] > 60  # all were walked


# Runs the console script (relayml.cli.main) with argv after it, then prints the exit code and
# the relayml.cli modules it imported.
CONSOLE = """
import contextlib, io, json, sys
from relayml.cli import main
sys.argv = ["relay", *sys.argv[1:]]
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
cli = sorted(m for m in sys.modules if m.startswith("relayml.cli."))
others = sorted(m for m in sys.modules if m.startswith("relayml.") and m not in cli)
print(json.dumps({"code": code, "cli": cli, "relayml": others, "fsspec": "fsspec" in sys.modules}))
"""


@pytest.mark.parametrize(
    ("args", "modules"),
    [
        (["--help"], ["relayml.cli._common", "relayml.cli.catalog"]),
        (["runz"], ["relayml.cli._common", "relayml.cli.catalog"]),
        (["runs", "--help"], ["relayml.cli._common", "relayml.cli.catalog", "relayml.cli.runs"]),
        (
            ["monitor", "run", "--help"],  # monitor's commands share the models commands' helpers
            [
                "relayml.cli.alerts",
                "relayml.cli.evaluation_view",
                "relayml.cli.models",
                "relayml.cli.monitor",
                "relayml.cli.promotions",
            ],
        ),
    ],
    ids=["help", "mistyped", "runs", "monitor-run"],
)
def test_the_console_script_imports_only_the_module_of_the_command_it_runs(
    tmp_path: Path, args: list[str], modules: list[str]
) -> None:
    env = {**os.environ, "RELAY_HOME": str(tmp_path)}
    result = _python(CONSOLE, *args, env=env)
    assert result["code"] == (2 if args == ["runz"] else 0)
    loaded = set(cast(list[str], result["cli"]))
    assert set(modules) <= loaded
    commands = loaded - {"relayml.cli._common", "relayml.cli._format", "relayml.cli.catalog"}
    assert commands <= set(modules), f"{args} imported {sorted(commands - set(modules))}"


# The services a tracking command opens no part of (relayml.tracking.local's LocalTracking).
OTHER_SERVICES = (
    "relayml.backend", "relayml.models", "relayml.monitoring", "relayml.deployments",
    "relayml.lineage", "relayml.pipelines", "relayml.reports", "relayml.identity",
    "relayml.features", "relayml.schedules", "relayml.predictions", "relayml.artifacts",
)  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [["projects", "list"], ["projects", "show", "startup"], ["experiments", "list"],
     ["runs", "list"], ["runs", "search", "metrics.accuracy > 0.5"], ["audit", "-n", "5"]],
    ids=" ".join,
)  # fmt: skip
def test_a_tracking_command_opens_only_the_tracking_services(
    small_store: Path, args: list[str]
) -> None:
    env = {**os.environ, "RELAY_HOME": str(small_store), "RELAY_PROJECT": "startup"}
    for name in ("RELAY_SERVER_URL", "RELAY_DATABASE_URL", "RELAY_ARTIFACTS_URL"):
        env.pop(name, None)
    result = _python(CONSOLE, *args, env=env)
    assert result["code"] == 0
    loaded = cast(list[str], result["relayml"])
    assert "relayml.tracking.local" in loaded  # it did read the store
    others = [m for m in loaded if m.startswith(OTHER_SERVICES)]
    assert others == [], f"relay {' '.join(args)} loaded {others}"
    assert result["fsspec"] is False  # no artifact is read, so the artifact store stays closed


@pytest.mark.parametrize(
    "args", [["runs", "list"], ["models", "list"], ["alerts", "list"]], ids=" ".join
)
def test_a_command_over_http_loads_no_store(tmp_path: Path, args: list[str]) -> None:
    # nothing listens on port 9: the command fails with a sentence, after its imports
    env = {**os.environ, "RELAY_HOME": str(tmp_path), "RELAY_SERVER_URL": "http://127.0.0.1:9"}
    result = _python(CONSOLE, *args, "-p", "startup", env=env)
    assert result["code"] == 1
    loaded = cast(list[str], result["relayml"])
    assert "relayml.client.http" in loaded
    stores = [m for m in loaded if m.startswith(("relayml.store", "relayml.backend"))]
    assert stores == [], f"relay {' '.join(args)} over HTTP loaded {stores}"


def test_the_catalog_lists_each_command_as_its_own_module_does() -> None:
    import inspect

    from typer.main import get_command

    from relayml.cli import app
    from relayml.cli.catalog import ENTRIES

    real = get_command(app).commands  # type: ignore[attr-defined]
    assert sorted(entry.name for entry in ENTRIES) == sorted(real)  # every command
    for entry in ENTRIES:
        first = inspect.cleandoc(real[entry.name].help or "").split("\n\n")[0]
        assert entry.help == " ".join(first.split()), (
            f"relayml/cli/catalog.py: the help line of `relay {entry.name}` differs from its "
            "module's; copy the first paragraph of the command's help there"
        )


def test_usage_errors_still_exit_2_without_reading_settings(tmp_path: Path) -> None:
    result = _relay(["runs", "list", "--no-such-option"], (*HEAVY, "pydantic_settings"), tmp_path)
    assert result["code"] == 2
    assert "No such option" in str(result["output"])
    assert result["loaded"] == []


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded store with a project, a run, a model version and an alert rule."""
    home = tmp_path_factory.mktemp("startup-home")
    code = """
import pandas as pd
import relayml as relay
from sklearn.linear_model import LogisticRegression
relay.init(project="startup")
x = pd.DataFrame({"tenure": [0.0, 1.0, 2.0, 3.0]})
with relay.start_run(name="first") as run:
    relay.log_params({"C": 1.0})
    relay.log_metric("accuracy", 0.9)
    model = LogisticRegression().fit(x, [0, 0, 1, 1])
    run.log_model(model, "churn", input_example=x.head(2))
print("{}")
"""
    env = {**os.environ, "RELAY_HOME": str(home)}
    for name in ("RELAY_SERVER_URL", "RELAY_DATABASE_URL", "RELAY_ARTIFACTS_URL"):
        env.pop(name, None)
    _python(code, env=env)
    rules = home / "alerts.yaml"
    rules.write_text(
        "alerts:\n  - name: accuracy-low\n    model: churn\n    env: production\n"
        "    figure: accuracy\n    below: 0.8\n"
    )
    assert _relay(["alerts", "set", str(rules)], (), home)["code"] == 0
    return home


READING_COMMANDS = [
    ["projects", "list"],
    ["experiments", "list"],
    ["runs", "list"],
    ["runs", "search", "metrics.accuracy > 0.5"],
    ["models", "list"],
    ["models", "show", "churn"],
    ["models", "versions", "churn"],
    ["deploy", "list"],
    ["alerts", "list"],
    ["alerts", "events", "--all"],
    ["feedback", "list"],
    ["datasets", "list"],
    ["pipelines", "list"],
    ["audit"],
    ["decisions", "show", "churn"],
]


@pytest.mark.parametrize("args", READING_COMMANDS, ids=" ".join)
def test_reading_the_embedded_store_loads_no_data_library(
    small_store: Path, args: list[str]
) -> None:
    result = _relay(args, NOT_FOR_READING, small_store)
    assert result["code"] in (0, 1), result["output"]  # 1: a clear "nothing yet" for decisions
    assert "Traceback" not in str(result["output"])
    assert result["loaded"] == []


@pytest.mark.parametrize(
    ("modules", "absent"),
    [
        # listing and setting rules: no figure is computed
        (["relayml.monitoring.alerts"], ("pandas", "pyarrow", "numpy", "scipy", "sklearn")),
        # figures, KPIs and explanations: scikit-learn loads with the first metric computed
        (
            ["relayml.monitoring.figures", "relayml.monitoring.kpis", "relayml.models.publish"],
            ("sklearn",),
        ),
        (["relayml.backend"], NOT_FOR_READING),
    ],
    ids=["alerts", "figures", "backend"],
)
def test_monitoring_modules_load_what_they_compute_when_they_compute_it(
    modules: list[str], absent: tuple[str, ...]
) -> None:
    code = (
        f"import json, sys\nfor name in {modules!r}:\n    __import__(name)\n"
        f"print(json.dumps({{'loaded': [m for m in {absent!r} if m in sys.modules]}}))"
    )
    assert _python(code) == {"loaded": []}


# Runs each argv (JSON list of lists) through the whole app and through app_for(argv), in-process,
# and prints both results.
BOTH_WAYS = """
import json, sys
from typer.testing import CliRunner
from typer.main import get_command
from relayml.cli import app, app_for
runner = CliRunner()
out = []
for args in json.loads(sys.argv[1]):
    whole, only = runner.invoke(app, args), runner.invoke(app_for(args), args)
    out.append({
        "args": args,
        "whole": [whole.exit_code, whole.stdout, whole.stderr],
        "only": [only.exit_code, only.stdout, only.stderr],
        "commands": len(get_command(app_for(args)).commands),
        "all": len(get_command(app).commands),
    })
print(json.dumps(out))
"""


def test_the_console_script_builds_only_the_command_asked_and_answers_the_same(
    small_store: Path,
) -> None:
    argvs = [
        ["runs", "list"], ["runs", "--help"], ["runs", "list", "--help"], ["runs", "lst"],
        ["models", "show", "churn", "--json"], ["alerts", "list"], ["monitor", "--help"],
        ["monitor", "run", "--help"], ["audit", "--help"], ["config", "--json"], ["-h"],
        ["-V"], ["-h", "runs"], ["runz"], [],
    ]  # fmt: skip
    env = {**os.environ, "RELAY_HOME": str(small_store), "RELAY_PROJECT": "startup"}
    for name in ("RELAY_SERVER_URL", "RELAY_DATABASE_URL", "RELAY_ARTIFACTS_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", BOTH_WAYS, json.dumps(argvs)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for result in results:
        assert result["only"] == result["whole"], result["args"]
        first = result["args"][0] if result["args"] else "-"
        named = not first.startswith("-") and first != "runz"
        assert result["commands"] == (1 if named else result["all"]), result["args"]
    codes = {" ".join(r["args"]): r["whole"][0] for r in results}
    assert codes["runs list"] == 0 and codes["runs lst"] == 2 and codes["runz"] == 2
