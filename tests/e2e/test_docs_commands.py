"""Every `relay …` command in docs/*.md runs verbatim after the demo, as the README's do.

Each page runs in its own copy of the demo's store, in a folder holding the files the page names
(decisions.yaml, alerts.yaml, checks.yaml, relay.yaml, the demo's pipeline module). Commands that
serve until stopped (`relay server …`, `relay serve …`) are started on a free port, probed on their
health route and stopped.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import time
from pathlib import Path

import httpx
import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from tests.fixtures.auth import token_for
from tests.fixtures.documented import ROOT, Demo, clean_env, fill, relay_commands, run_commands
from tests.fixtures.net import free_port, loopback
from tests.fixtures.warm_cli import run_relay, spawn_relay

PAGES = sorted(str(path.relative_to(ROOT / "docs")) for path in (ROOT / "docs").rglob("*.md"))
SERVES = ("relay server", "relay serve ")
# documented commands that no test runs here, and why
NOT_RUN = {
    "relay serve": "the command's name in prose (architecture.md, configuration.md)",
    "relay pipelines run": "the command's name in prose (monitoring.md: what `retrain` starts)",
    "relay serve churn@production fraud@production --workers 2": "the demo has no fraud model; "
    "tests/e2e/test_model_server.py serves two models with --workers",
    "relay monitor drift churn --env production --executor dask://scheduler:8786": "needs a Dask "
    "scheduler at that address; tests/integration cover drift_report_dask on a LocalCluster",
}
# documented commands whose answer, in the state the demo leaves, is exit code 1 saying this
FAILS_AS_DOCUMENTED = {
    "relay models promote churn/2 --to production": "may not enter production",
    'relay models approve churn/2 --env production --comment "segment gap acceptable"': (
        "does not wait for approval"
    ),
    "relay deploy promote-winner churn --env production": "no winner",
    "relay deploy churn --env production --version 2": "the deployment is unchanged",
    "relay models approve churn/2 --env production --canary": "does not wait for approval",
    # the demo has no event data for the feature set's source (docs_src/features_train.py logs it)
    "relay features check customer": "dataset 'customer_events' does not exist",
    "relay features promote customer --to staging": "none has run on it",
    # the demo's story ends with its drift and accuracy alerts still open (the market moved)
    "relay monitor run": "still firing",
}
# ... on one page only: monitoring.md sets alerts.yaml before `relay monitor run`, which then
# exits 1 while the alert is active (configuration.md runs it on the demo's quiet rules)
FAILS_ON_PAGE = {
    "monitoring.md": {"relay monitor run": "alert open: busy"},
    # operations.md restores its own backup: refused over the demo's store until --yes
    "operations.md": {"relay db restore relay-backup.tar": "is not empty"},
    "roles/devops.md": {"relay monitor run": "alert open: busy"},  # after alerts.yaml is set
}
DECISIONS = 'default: no action\nrules:\n  - {name: save, when: {score: ">= 0.6"}, action: call}\n'
ALERTS = (  # fires on the demo's traffic, so that `relay alerts ack 1` has an event
    "alerts:\n  - {name: busy, model: churn, env: production, figure: traffic, "
    "above: 0, window: day}\n"
)
CHECKS = "checks:\n  - {column: tenure_months, not_null: true, min: 0}\n  - {rows: {min: 100}}\n"
HEALTH = {"server": "/healthz", "serve": "/v2/health/ready"}


def _folder(demo: Demo, tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """A copy of the demo's store and the files the docs name; (environment, placeholders)."""
    from relayml.predictions.reader import read_log

    home = tmp_path / "home"
    shutil.copytree(demo.home, home)
    (tmp_path / "decisions.yaml").write_text(DECISIONS)
    (tmp_path / "alerts.yaml").write_text(ALERTS)
    (tmp_path / "checks.yaml").write_text(CHECKS)
    for name in ("relay.yaml", "churn_demo.py"):  # the policy docs/models.md names, a pipeline
        shutil.copy(ROOT / "examples" / name, tmp_path / name)
    shutil.copy(ROOT / "docs_src" / "features_define.py", tmp_path)  # docs/features.md applies it
    env = clean_env(home)
    pipelines = run_relay(["pipelines", "list", "--json"], env=env, cwd=tmp_path, timeout=120)
    logged = read_log(str(home / "artifacts" / "predictions")).to_pandas()
    backend = LocalBackend(get_settings(home=home))
    run_id = (
        backend.search_runs("churn", filter="tags.demo = 'true'", order_by=["metrics.auc DESC"])
        .runs[0]
        .id
    )  # the best baseline (the retrained run logs no artifacts)
    backend.close()
    placeholders = {
        "<run-id>": run_id,
        "<prediction-id>": str(logged["prediction_id"].iloc[0]),
        "<run>": json.loads(pipelines.stdout)[0]["id"],
        "NAME": "churn",
    }
    return env, placeholders


def test_every_documented_command_is_run_or_accounted_for() -> None:
    documented = {c for page in PAGES for c in relay_commands(ROOT / "docs" / page)}
    on_pages = {command for commands in FAILS_ON_PAGE.values() for command in commands}
    assert set(NOT_RUN) | set(FAILS_AS_DOCUMENTED) | on_pages <= documented  # no stale entries
    assert len(documented) > 50


@pytest.mark.parametrize("page", PAGES)
def test_the_page_commands_run_verbatim_after_the_demo(
    page: str, demo: Demo, tmp_path: Path
) -> None:
    commands = [
        command
        for command in relay_commands(ROOT / "docs" / page)
        if command not in NOT_RUN and not command.startswith(SERVES)
    ]
    env, placeholders = _folder(demo, tmp_path)
    failures = run_commands(
        commands,
        env=env,
        cwd=tmp_path,
        placeholders=placeholders,
        fails_as_documented=FAILS_AS_DOCUMENTED | FAILS_ON_PAGE.get(page, {}),
    )
    assert not failures, "\n".join(failures)


def _on_free_port(command: str) -> tuple[list[str], int]:
    """The command's arguments with --port replaced (or added) by a free port."""
    port = free_port()
    args = shlex.split(re.sub(r"--port \d+", "", command))[1:]
    return [*args, "--port", str(port)], port


def test_the_documented_servers_start_answer_their_health_route_and_stop(
    demo: Demo, tmp_path: Path
) -> None:
    serving = [
        command
        for page in PAGES
        for command in relay_commands(ROOT / "docs" / page)
        if command.startswith(SERVES) and command not in NOT_RUN
    ]
    assert "relay serve churn@production --port 8000" in serving
    assert "relay server --host 0.0.0.0 --port 8080" in serving
    env, placeholders = _folder(demo, tmp_path)
    # `relay server` runs with auth on, as documented; the demo made its team's users, so the
    # test signs in with a token of an administrator it adds to the copied store
    admin_token = token_for(get_settings(home=Path(env["RELAY_HOME"])), "docs-admin", admin=True)
    for command in dict.fromkeys(serving):
        args, port = _on_free_port(fill(command, placeholders))
        said, errors = tmp_path / f"serve-{port}.out", tmp_path / f"serve-{port}.err"
        server = spawn_relay(args, env=env, cwd=tmp_path, stdout=said, stderr=errors)
        url = f"http://127.0.0.1:{port}{HEALTH[args[0]]}"
        try:
            deadline = time.monotonic() + 90
            answered = False
            while not answered and time.monotonic() < deadline and server.poll() is None:
                try:
                    answered = loopback.get(url, timeout=2).status_code == 200
                except httpx.TransportError:
                    time.sleep(0.3)
            if answered and args[0] == "server":
                api = f"http://127.0.0.1:{port}/api/v1/projects"
                unsigned = 200 if "--no-auth" in args else 401  # --no-auth: one local person
                assert loopback.get(api, timeout=10).status_code == unsigned, command
                signed = {"Authorization": f"Bearer {admin_token}"}
                assert loopback.get(api, headers=signed, timeout=10).status_code == 200
        finally:
            server.terminate()
            server.wait(timeout=60)
            stderr = errors.read_text(errors="replace")
        assert answered, f"{command}: {url} never answered 200: {stderr[-500:]}"
        assert "Traceback" not in stderr, f"{command}: {stderr[-500:]}"
