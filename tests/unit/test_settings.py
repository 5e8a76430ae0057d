"""Every setting is declared once in relayml.config, has help, and shows in `relay config`."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from typer.testing import CliRunner

from relayml.cli import app
from relayml.config import Settings, redact_url

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "relayml"

# Reads of the process environment that are not relayml settings, each with its reason.
NOT_SETTINGS = {
    # The terminal's own width convention, which Rich reads too: a pipe gets wide lines unless
    # the user asked for a width. Not a relayml setting, so not in `relay config`.
    ("cli/_common.py", "COLUMNS"),
    # botocore's own endpoint settings, read only to name the endpoint in a storage error's
    # sentence: relayml passes them on untouched, it does not configure them.
    ("artifacts/failures.py", "AWS_ENDPOINT_URL_S3"),
    ("artifacts/failures.py", "AWS_ENDPOINT_URL"),
    # MLflow's own switch, set (not read) so that MLflow 3.x's reader opens an mlruns folder that
    # `relay import mlflow` reads; not a relayml setting.
    ("imports/mlflow_source.py", "MLFLOW_ALLOW_FILE_STORE"),
}


def _environment_reads(tree: ast.AST) -> list[tuple[int, str | None]]:
    """(line, variable name if literal) of each os.environ / os.getenv / environ use."""
    found: list[tuple[int, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name in ("environ", "getenv", "putenv", "environb"):
                    found.append((node.lineno, None))
        if not isinstance(node, ast.Attribute):
            continue
        if not (isinstance(node.value, ast.Name) and node.value.id == "os"):
            continue
        if node.attr in ("environ", "environb", "getenv", "putenv", "unsetenv"):
            found.append((node.lineno, None))
    # name the variable where the read is `"X" in os.environ`, os.environ["X"] or os.getenv("X")
    named: list[tuple[int, str | None]] = []
    literals = {
        node.lineno: node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    for line, _ in found:
        named.append((line, literals.get(line)))
    return sorted(named, key=lambda item: item[0])


def test_only_config_reads_the_environment() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "config.py":
            continue
        for line, variable in _environment_reads(ast.parse(path.read_text(), str(path))):
            if (relative, variable) not in NOT_SETTINGS:
                offenders.append(f"{relative}:{line} ({variable or 'environment'})")
    assert not offenders, (
        "read settings through relayml.config.Settings (declared once, with help, shown by "
        f"`relay config`), not os.environ: {', '.join(offenders)}"
    )


def test_the_scan_finds_what_it_looks_for() -> None:
    code = 'import os\nfrom os import getenv\nx = os.environ.get("RELAY_X")\ny = os.getenv("Y")\n'
    assert [line for line, _ in _environment_reads(ast.parse(code))] == [2, 3, 4]


def test_every_setting_has_help_and_shows_in_relay_config(tmp_path: Path) -> None:
    env = {
        "RELAY_HOME": str(tmp_path),
        "RELAY_DATABASE_URL": "postgresql+psycopg://bob:hunter2@db:5432/relay",
        "RELAY_TOKEN": "secret-token",
        "RELAY_BOOTSTRAP_TOKEN": "relay_bootstrap-secret-of-the-first-admin",
        "RELAY_OPENLINEAGE_API_KEY": "lineage-key",
    }
    result = CliRunner().invoke(app, ["config", "--json"], env=env)
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert list(rows) == list(Settings.model_fields)
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no help text"
        assert rows[name]["env"] == f"RELAY_{name.upper()}"
        assert rows[name]["help"] == field.description
    assert rows["database_url"]["source"] == "environment"
    assert rows["database_url"]["value"] == "postgresql+psycopg://bob:***@db:5432/relay"
    assert "hunter2" not in result.stdout and "secret-token" not in result.stdout
    assert "bootstrap-secret" not in result.stdout and "lineage-key" not in result.stdout
    assert rows["bootstrap_token"]["value"] == "***" and rows["auth"]["value"] == "True"


def test_redact_url_hides_only_the_password() -> None:
    assert (
        redact_url("postgresql+psycopg://bob:pw@h:5/db?x=1")
        == "postgresql+psycopg://bob:***@h:5/db?x=1"
    )
    assert redact_url("postgresql://bob@h/db") == "postgresql://bob@h/db"
    assert redact_url("sqlite:////tmp/relay.db") == "sqlite:////tmp/relay.db"
    assert redact_url("http://[::1:80") == "http://[::1:80"
