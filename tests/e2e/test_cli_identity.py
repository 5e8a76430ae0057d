"""`relay users`, `relay tokens` and `relay whoami`: in-process and against a real server, and a
session of use after which no token or password shows in logs, errors, audit or `relay config`."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from relayml.backend import LocalBackend
from relayml.cli import app
from relayml.config import get_settings
from tests.e2e.identity_server import Server, running_server

runner = CliRunner()


def relay(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """Run `relay ARGS` in-process."""
    return runner.invoke(app, list(args), env=env, input=input)


def ok(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """Run `relay ARGS` and assert it succeeded."""
    result = relay(*args, env=env, input=input)
    assert result.exit_code == 0, result.output
    return result


def assert_error(result: Result, *fragments: str) -> None:
    """Exit code 1 and one 'Error: ...' line naming every fragment."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedded store; the local user is alice."""
    for name in list(os.environ):
        if name.startswith("RELAY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RELAY_USER", "alice")
    return tmp_path / "home"


@pytest.mark.parametrize(
    "command",
    [["users", "add"], ["users", "list"], ["users", "disable"], ["users", "enable"],
     ["users", "admin"], ["users", "password"], ["tokens", "create"], ["tokens", "list"],
     ["tokens", "revoke"], ["whoami"]],
    ids=" ".join,
)  # fmt: skip
def test_each_identity_command_teaches_an_example(command: list[str]) -> None:
    out = ok(*command, "--help").stdout
    assert f"relay {' '.join(command)}" in " ".join(out.split("Example:")[1].split())


def test_users_in_process_the_local_user_is_the_administrator(home: Path) -> None:
    assert_error(relay("tokens", "list"), "'alice'", "relay users add alice --admin")
    ok("users", "add", "alice", "--admin", "--email", "alice@example.org")
    added = ok(
        "users", "add", "ann", "--display-name", "Ann Lee", "--password-prompt",
        input="ann's long passphrase\nann's long passphrase\n",
    )  # fmt: skip
    assert "Added user ann" in added.stdout
    users = json.loads(ok("users", "list", "--json").stdout)
    assert [(u["name"], u["is_admin"], u["has_password"]) for u in users] == [
        ("alice", True, False),
        ("ann", False, True),
    ]
    assert "Disabled ann" in ok("users", "disable", "ann").stdout
    assert json.loads(ok("users", "show", "ann", "--json").stdout)["disabled_at"]
    ok("users", "enable", "ann")
    assert "is now an administrator" in ok("users", "admin", "ann", "--on").stdout
    assert "no longer" in ok("users", "admin", "ann", "--off").stdout
    assert_error(relay("users", "disable", "alice"), "cannot disable yourself")
    assert_error(relay("users", "add", "ann"), "already exists")
    short = relay("users", "add", "bob", "--password-prompt", input="short\nshort\n")
    assert_error(short, "at least 12 characters")
    assert "bob" not in ok("users", "list").stdout
    me = ok("whoami").stdout
    assert "alice" in me and "local user" in me


def test_tokens_in_process_print_the_secret_once(home: Path) -> None:
    ok("users", "add", "alice", "--admin")
    ok("users", "add", "scorer")
    made = ok("tokens", "create", "--name", "laptop", "--expires-days", "30")
    secret = made.stdout.strip()
    assert secret.startswith("relay_") and "\n" not in secret  # only the secret on stdout
    assert "will not be shown again" in made.stderr and "export RELAY_TOKEN=" in made.stderr
    assert secret not in made.stderr
    other = json.loads(
        ok(
            "tokens", "create", "--user", "scorer", "--scope", "predict", "--no-expiry", "--json"
        ).stdout
    )
    assert other["token"]["scopes"] == ["predict"] and other["token"]["expires_at"] is None
    listed = ok("tokens", "list").stdout
    assert "laptop" in listed and secret not in listed and secret[:12] in listed
    theirs = json.loads(ok("tokens", "list", "--user", "scorer", "--json").stdout)
    assert [t["id"] for t in theirs] == [other["token"]["id"]]
    assert "Revoked token" in ok("tokens", "revoke", str(other["token"]["id"])).stdout
    assert "revoked" in ok("tokens", "list", "--user", "scorer").stdout
    both = relay("tokens", "create", "--expires-days", "3", "--no-expiry")
    assert_error(both, "--no-expiry, not both")
    assert_error(relay("tokens", "revoke", "999"), "no token 999")
    assert_error(relay("tokens", "create", "--scope", "root"), "scopes are api, predict")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, Path]]:
    """A server requiring identity; the administrator 'root' and their token."""
    home = tmp_path_factory.mktemp("cli-identity")
    backend = LocalBackend(get_settings(home=home, user="root"))
    backend.add_user("root", admin=True)
    token = backend.create_token("bootstrap").secret
    backend.close()
    with running_server(home, RELAY_SESSION_SECRET="the-session-key-" + "k" * 32) as running:
        yield running, token, home


def test_the_commands_work_over_http_with_the_tokens_user(
    server: tuple[Server, str, Path], tmp_path: Path
) -> None:
    running, root_token, _ = server
    base = {"RELAY_SERVER_URL": running.url, "RELAY_HOME": str(tmp_path)}
    admin = {**base, "RELAY_TOKEN": root_token}
    name = f"dora-{uuid.uuid4().hex[:6]}"
    ok("users", "add", name, "--email", f"{name}@example.org", env=admin)
    her_token = ok("tokens", "create", "--user", name, "--name", "laptop", env=admin).stdout.strip()
    her = {**base, "RELAY_TOKEN": her_token}
    me = json.loads(ok("whoami", "--json", env=her).stdout)
    assert (me["name"], me["via"], me["is_admin"]) == (name, "token", False)
    assert_error(relay("users", "list", env=her), "not an administrator")
    assert_error(relay("tokens", "list", "--user", "root", env=her), "not an administrator")
    second = ok("tokens", "create", "--name", "ci", env=her).stdout.strip()
    mine = json.loads(ok("tokens", "list", "--json", env=her).stdout)
    assert sorted(t["name"] for t in mine) == ["ci", "laptop"]
    root_tokens = json.loads(ok("tokens", "list", "--json", env=admin).stdout)
    assert_error(relay("tokens", "revoke", str(root_tokens[0]["id"]), env=her), "no token")
    ci = next(t for t in mine if t["name"] == "ci")
    ok("tokens", "revoke", str(ci["id"]), env=her)
    assert_error(relay("whoami", env={**base, "RELAY_TOKEN": second}), "revoked")
    assert_error(relay("whoami", env=base), "sign in first")
    ok("users", "disable", name, env=admin)
    assert_error(relay("whoami", env=her), "disabled")


def test_no_token_or_password_shows_after_a_session_of_use(
    server: tuple[Server, str, Path], tmp_path: Path
) -> None:
    running, root_token, home = server
    base = {"RELAY_SERVER_URL": running.url, "RELAY_HOME": str(tmp_path)}
    admin = {**base, "RELAY_TOKEN": root_token}
    name = f"gus-{uuid.uuid4().hex[:6]}"
    password = f"gus-passphrase-{uuid.uuid4().hex}"
    wrong = f"gus-wrong-guess-{uuid.uuid4().hex}"
    new_password = f"gus-second-passphrase-{uuid.uuid4().hex}"
    secrets = [root_token, password, wrong, new_password]
    outputs: list[str] = []

    def run(*args: str, env: dict[str, str], input: str | None = None) -> Result:
        result = relay(*args, env=env, input=input)
        outputs.append(result.stderr)  # what a user sees of errors and notes
        if args[:2] != ("tokens", "create"):  # which prints the new secret, once, by design
            outputs.append(result.stdout)
        return result

    run("users", "add", name, "--password-prompt", env=admin, input=f"{password}\n{password}\n")
    token = run("tokens", "create", "--user", name, env=admin).stdout.strip()
    secrets.append(token)
    his = {**base, "RELAY_TOKEN": token}
    run("whoami", env=his)
    run("tokens", "list", env=his)
    with httpx.Client(base_url=running.url) as browser:
        for attempt in (wrong, password):
            answer = browser.post("/auth/sign-in", json={"user": name, "password": attempt})
            outputs.append(answer.text + str(answer.headers))
        assert answer.status_code == 200
        bad = browser.post("/auth/sign-in", data={"user": password, "password": password})
        outputs.append(bad.text)
        bad = browser.get("/api/v1/me", headers={"Authorization": f"Bearer {token}x"})
        outputs.append(bad.text)
    run("users", "password", name, env=admin, input=f"{new_password}\n{new_password}\n")
    token_id = json.loads(run("tokens", "list", "--json", env=his).stdout)[0]["id"]
    run("tokens", "revoke", str(token_id), env=his)
    outputs.append(relay("whoami", env=his).stderr)  # the revoked token's error
    config = relay(
        "config",
        env={**his, "RELAY_SESSION_SECRET": "a-session-secret-value", "RELAY_OIDC_CLIENT_SECRET":
             "an-oidc-client-secret"},
    )  # fmt: skip
    assert config.exit_code == 0
    secrets += ["a-session-secret-value", "an-oidc-client-secret"]
    outputs.append(config.stdout + config.stderr)
    with httpx.Client(base_url=running.url, headers={"Authorization": f"Bearer {root_token}"}) as c:
        audit = c.get("/api/v1/audit", params={"limit": 10_000}).text
    assert "auth.sign_in_failed" in audit and "token.create" in audit  # the session was audited
    log = running.log.read_text(errors="replace")
    assert "/auth/sign-in" in log  # the log has the requests
    database = (home / "relay.db").read_bytes() + b"".join(
        p.read_bytes() for p in home.glob("relay.db-*")
    )
    places = {"outputs": "\n".join(outputs), "audit": audit, "log": log}
    for secret in secrets:
        for place, text in places.items():
            assert secret not in text, f"a secret shows in {place}"
        assert secret.encode() not in database, "a secret is stored in clear"
    session_key = (home / "session.key").read_text() if (home / "session.key").exists() else ""
    assert not session_key  # RELAY_SESSION_SECRET was set: no key file is written
    assert "the-session-key-" not in log + audit
