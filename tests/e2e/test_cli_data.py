"""`relay datasets` and `relay data check`, run in-process on an embedded store."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from relayml.backend import LocalBackend
from relayml.cli import app as relay_app
from relayml.config import get_settings
from relayml.data.sources import log_dataset

runner = CliRunner()

CHECKS = """\
checks:
  - {column: id, unique: true}
  - {column: age, not_null: true}
  - {column: age, min: 0, max: 120}
  - {column: plan, allowed: [basic, pro]}
  - rows: {min: 3, max: 1e7}
"""

FRAME = pd.DataFrame(
    {
        "id": [1, 2, 3, 4],
        "age": [34.0, None, 150.0, 29.0],
        "plan": ["basic", "pro", "gold", "basic"],
    }
)


def relay(*args: str) -> Result:
    """Run `relay ARGS` in-process."""
    return runner.invoke(relay_app, list(args))


def ok(*args: str) -> str:
    result = relay(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


_BOX = re.compile("[\u2500-\u257f]")


def one_line(text: str) -> str:
    """Text with table borders dropped and every run of whitespace made one space."""
    return " ".join(_BOX.sub(" ", text).split())


def assert_error(result: Result, *fragments: str) -> None:
    """Exit code 1 and one 'Error: ...' line on stderr naming every fragment, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedded store; the CLI acts as alice in project churn."""
    for name in list(os.environ):
        if name.startswith("RELAY_") or name == "COLUMNS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RELAY_USER", "alice")
    monkeypatch.setenv("RELAY_PROJECT", "churn")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


@pytest.fixture
def backend(home: Path) -> Iterator[Any]:
    """Project churn with customers@1 (FRAME) and customers@2 (the bad rows fixed)."""
    backend: Any = LocalBackend(get_settings())
    backend.create_project("churn", business_question="Who leaves?")
    log_dataset(backend, "churn", "customers", FRAME, description="CRM export")
    fixed = FRAME.assign(age=[34.0, 40.0, 50.0, 29.0], plan=["basic", "pro", "pro", "basic"])
    log_dataset(backend, "churn", "customers", fixed)
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def checks(home: Path) -> Path:
    path = Path("checks.yaml")
    path.write_text(CHECKS)
    return path


@pytest.mark.parametrize(
    "command",
    [["datasets", "list"], ["datasets", "show"], ["datasets", "versions"], ["datasets", "log"],
     ["data", "check"]],
    ids=" ".join,
)  # fmt: skip
def test_each_command_help_teaches_an_example(command: list[str]) -> None:
    out = ok(*command, "--help")
    assert f"relay {' '.join(command)}" in one_line(out.split("Example:")[1])


def test_datasets_list_and_versions(backend: Any) -> None:
    listed = one_line(ok("datasets", "list"))
    assert "Datasets of project churn" in listed and "customers v2 CRM export" in listed
    versions = one_line(ok("datasets", "versions", "customers"))
    assert versions.index("customers@2") < versions.index("customers@1")
    assert "4 3" in versions and "pandas" in versions
    data = json.loads(ok("datasets", "versions", "customers", "--json"))
    assert [v["version"] for v in data] == [2, 1]


def test_an_empty_project_says_how_to_log_a_dataset(home: Path) -> None:
    backend = LocalBackend(get_settings())
    backend.create_project("churn")
    backend.close()
    assert "has no datasets yet" in one_line(ok("datasets", "list"))


def test_datasets_show_prints_the_profile(backend: Any) -> None:
    shown = ok("datasets", "show", "customers@1")
    text = one_line(shown)
    assert "customers@1" in text and "rows 4" in text and "columns 3" in text
    assert "source pandas" in text and "last check none yet" in text
    cells = [one_line(line).split() for line in shown.splitlines()]
    rows = {line[0]: line for line in cells if line}
    assert rows["age"][:4] == ["age", "double", "1", "3"]
    assert rows["age"][4:7] == ["29", "71", "150"]  # min, mean, max
    assert " ".join(rows["plan"]) == "plan string 0 3 basic (2), pro (1), gold (1)"
    data = json.loads(ok("datasets", "show", "customers", "--json"))
    assert data["version"] == 2 and data["checks"] == []
    assert data["profile"]["columns"]["age"]["max"] == 50.0


def test_data_check_fails_with_the_failing_rows_and_exit_code_1(backend: Any, checks: Path) -> None:
    result = relay("data", "check", "customers@1", "--checks", str(checks))
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "✓ id: unique" in out
    assert "✗ age: not null — 1 of 4 rows are null or NaN." in out
    assert "✗ age: between 0 and 120 — 1 of 4 rows are outside [0, 120]." in out
    assert "✓ rows: between 3 and 10000000" in out
    lines = out.splitlines()
    where = lines.index(next(line for line in lines if "between 0 and 120" in line))
    assert lines[where + 1].strip() == "failing row:"
    assert lines[where + 2].split() == ["row", "age", "id", "plan"]
    assert lines[where + 3].split() == ["2", "150", "3", "gold"]
    assert "FAILED 3 of 5 checks failed on customers@1" in one_line(out)
    stored = backend.list_data_checks("churn", "customers@1")
    assert len(stored) == 1 and not stored[0].passed
    assert "last check failed (3 of 5)" in one_line(ok("datasets", "show", "customers@1"))


def test_data_check_passes_with_exit_code_0(backend: Any, checks: Path) -> None:
    out = ok("data", "check", "customers", "--checks", str(checks))
    assert "PASSED all 5 checks passed on customers@2" in one_line(out)
    assert "✗" not in out


def test_data_check_json(backend: Any, checks: Path) -> None:
    result = relay("data", "check", "customers@1", "-c", str(checks), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["passed"] is False and report["version"] == 1
    failed = [o["name"] for o in report["outcomes"] if not o["passed"]]
    assert failed == ["age: not null", "age: between 0 and 120", "plan: one of ['basic', 'pro']"]


def test_a_missing_column_is_a_failed_check_not_a_crash(backend: Any, home: Path) -> None:
    Path("missing.yaml").write_text("checks:\n  - {column: churned, not_null: true}\n")
    result = relay("data", "check", "customers", "-c", "missing.yaml")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (
        "✗ churned: not null — column 'churned' is missing; the data has columns: id, age, plan."
        in one_line(result.stdout)
    )


def test_bad_check_files_and_references(backend: Any, home: Path) -> None:
    assert_error(
        relay("data", "check", "customers", "-c", "nope.yaml"),
        "check file 'nope.yaml' does not exist",
    )
    Path("bad.yaml").write_text(
        "checks:\n  - {column: age, not_null: true}\n  - {column: age, maxx: 3}\n"
    )
    assert_error(
        relay("data", "check", "customers", "-c", "bad.yaml"),
        "bad.yaml: check 2 {'column': 'age', 'maxx': 3}",
        "maxx: Extra inputs are not permitted",
    )
    Path("broken.yaml").write_text("checks: [\n")
    assert_error(relay("data", "check", "customers", "-c", "broken.yaml"), "not valid YAML")
    Path("ok.yaml").write_text(CHECKS)
    assert_error(
        relay("data", "check", "accounts", "-c", "ok.yaml"), "dataset 'accounts' does not exist"
    )
    assert_error(relay("datasets", "show", "customers@7"), "has no version 7")
    assert backend.list_data_checks("churn", "customers") == []
    missing_option = relay("data", "check", "customers")
    assert missing_option.exit_code == 2


def test_datasets_log_a_csv_file(backend: Any, home: Path) -> None:
    Path("accounts.csv").write_text("id,region\n1,north\n2,south\n")
    out = one_line(ok("datasets", "log", "accounts", "accounts.csv", "-d", "regions"))
    assert out.startswith("Logged accounts@1 (2 rows, 2 columns, content ")
    again = one_line(ok("datasets", "log", "accounts", "accounts.csv"))
    assert again.startswith("Logged accounts@1 ")  # the same content: the same version
    shown = one_line(ok("datasets", "show", "accounts"))
    assert "source csv " in shown and "accounts.csv" in shown
    Path("bad.csv").write_text("a,b\n1,2\n3,4,5\n")
    assert_error(relay("datasets", "log", "accounts", "bad.csv"), "line 3 has 3 fields")
