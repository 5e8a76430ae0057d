"""Attacks on the platform server, tried over real HTTP: artifact paths, SQL, CORS.

The shared `relay_server` fixture is used as it comes: its URL (a string, or an object with
``url``) and, when it carries one, its token (``token``), so these tests keep working when the
server requires identity. A raw HTTP client (http.client) sends the paths exactly as written:
httpx would normalise ``..`` away before the server saw it.
"""

from __future__ import annotations

import http.client as http_client
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from relayml.cli import app
from relayml.client import HttpBackend
from relayml.config import get_settings
from relayml.errors import InvalidInput
from relayml.sdk import download_artifact
from tests.fixtures.auth import ADMIN_TOKEN

PASSWD_LINE = "root:"  # what /etc/passwd starts with on every Linux


@dataclass
class Api:
    """The platform server under test: its base URL and the headers that identify the caller."""

    url: str
    headers: dict[str, str]
    token: str | None

    def client(self) -> httpx.Client:
        """An httpx client on /api/v1."""
        return httpx.Client(base_url=self.url + "/api/v1", headers=self.headers, timeout=30)

    def raw(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """Send ``path`` byte for byte (no normalisation); (status, body)."""
        parts = urlsplit(self.url)
        conn = http_client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            conn.request(method, "/api/v1" + path, body=body, headers=self.headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def backend(self, home: Path) -> HttpBackend:
        """The SDK's HTTP backend on this server."""
        return HttpBackend(get_settings(server_url=self.url, token=self.token, home=home))


@pytest.fixture
def api(relay_server: Any) -> Api:
    url = str(getattr(relay_server, "url", relay_server)).rstrip("/")
    token = getattr(relay_server, "token", None) or ADMIN_TOKEN  # the fixture's first admin
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Api(url, headers, token)


@pytest.fixture
def http(api: Api) -> Iterator[httpx.Client]:
    with api.client() as client:
        yield client


@dataclass
class LoggedRun:
    """A project with one running run that holds notes.txt and plots/roc.png."""

    project: str
    run_id: str


@pytest.fixture
def logged(http: httpx.Client) -> LoggedRun:
    project = f"sec-{uuid.uuid4().hex[:10]}"
    assert http.post("/projects", json={"name": project}).status_code == 201
    run = http.post(f"/projects/{project}/runs", json={"experiment": "e"})
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    for path, data in (("notes.txt", b"harmless"), ("plots/roc.png", b"png")):
        put = http.put(f"/runs/{run_id}/artifacts/{path}", content=data)
        assert put.status_code == 200, put.text
    return LoggedRun(project, run_id)


# artifact paths: every spelling of "outside the run" is refused with 4xx and a message

ESCAPES = [
    "../../etc/passwd",
    "../../../../../../etc/passwd",
    "notes.txt/../../../etc/passwd",
    "%2e%2e/%2e%2e/etc/passwd",
    "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "..%2f..%2fetc%2fpasswd",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "..\\..\\etc\\passwd",
    "..%5c..%5cetc%5cpasswd",
    "C:/Windows/win.ini",
    "C:%5CWindows%5Cwin.ini",
    "notes.txt%00.png",
]


def _refused(status: int, body: bytes) -> None:
    assert 400 <= status < 500, (status, body[:200])
    assert PASSWD_LINE.encode() not in body
    message = httpx.Response(status, content=body).json()["error"]["message"]
    assert message, body


@pytest.mark.parametrize("escape", ESCAPES)
def test_an_artifact_path_that_leaves_the_run_is_refused_over_http(
    api: Api, http: httpx.Client, logged: LoggedRun, escape: str
) -> None:
    run = logged.run_id
    _refused(*api.raw("GET", f"/runs/{run}/artifacts/{escape}"))
    _refused(*api.raw("PUT", f"/runs/{run}/artifacts/{escape}", b"planted"))
    _refused(*api.raw("GET", f"/runs/{run}/artifacts?prefix={escape}"))
    listed = [a["path"] for a in http.get(f"/runs/{run}/artifacts").json()]
    assert listed == ["notes.txt", "plots/roc.png"]  # nothing was stored by the PUT


def test_the_sdk_and_the_cli_refuse_an_escaping_path_before_any_request(
    api: Api, logged: LoggedRun, tmp_path: Path
) -> None:
    backend = api.backend(tmp_path / "home")
    (tmp_path / "planted.txt").write_text("planted")
    try:
        for bad in ("../../etc/passwd", "/etc/passwd", "a/../../b", "..\\x", "C:/x"):
            with pytest.raises(InvalidInput):
                backend.log_artifact(logged.run_id, bad, tmp_path / "planted.txt")
            with pytest.raises(InvalidInput):
                download_artifact(logged.run_id, bad, tmp_path / "out", backend=backend)
            assert not (tmp_path / "out").exists()
        assert [a.path for a in backend.list_artifacts(logged.run_id)] == [
            "notes.txt",
            "plots/roc.png",
        ]
    finally:
        backend.close()
    env = {"RELAY_SERVER_URL": api.url, "RELAY_HOME": str(tmp_path / "home")}
    if api.token:
        env["RELAY_TOKEN"] = api.token
    out = tmp_path / "cli-out"
    for bad in ("../../etc/passwd", "/etc/passwd"):
        result = CliRunner().invoke(
            app, ["artifacts", "download", logged.run_id, bad, "--out", str(out)], env=env
        )
        assert result.exit_code != 0
        assert "artifact path" in result.output and "Traceback" not in result.output
    assert not any(out.rglob("*")) if out.exists() else True
    good = CliRunner().invoke(
        app, ["artifacts", "download", logged.run_id, "plots", "--out", str(out)], env=env
    )
    assert good.exit_code == 0, good.output
    assert (out / "plots" / "roc.png").read_bytes() == b"png"


def test_sql_wildcards_in_an_artifact_prefix_match_only_themselves(
    http: httpx.Client, logged: LoggedRun
) -> None:
    for prefix in ("%", "_", "plot_", "p%"):
        answer = http.get(f"/runs/{logged.run_id}/artifacts", params={"prefix": prefix})
        assert answer.status_code == 200, answer.text
        assert answer.json() == [], prefix
    plots = http.get(f"/runs/{logged.run_id}/artifacts", params={"prefix": "plots"}).json()
    assert [a["path"] for a in plots] == ["plots/roc.png"]


# SQL: text from the caller is data, never SQL

INJECTIONS = [
    "metrics.acc > 0; DROP TABLE runs",
    "metrics.acc > 0 OR 1=1; --",
    "params.lr = '1' OR '1'='1",
    "params.lr = ''; DROP TABLE runs; --'",
    "tags.x = 'a' UNION SELECT * FROM users --",
    "1=1",
    "attributes.status = RUNNING; DELETE FROM runs",
    "metrics.`acc; DROP TABLE runs` > 0 --",
]
ORDERINGS = [
    "start_time; DROP TABLE runs",
    "metrics.acc DESC, (SELECT 1)",
    "metrics.acc DESC; --",
    "1",
    "start_time DESC NULLS FIRST",
    "(CASE WHEN 1=1 THEN start_time END)",
]


def _runs_intact(http: httpx.Client, logged: LoggedRun) -> None:
    search = http.post(f"/projects/{logged.project}/runs/search", json={})
    assert search.status_code == 200, search.text
    assert [r["id"] for r in search.json()["runs"]] == [logged.run_id]
    assert http.get(f"/runs/{logged.run_id}").status_code == 200
    assert logged.project in [p["name"] for p in http.get("/projects").json()]


def test_sql_in_search_filters_and_sort_keys_is_refused_or_matched_as_data(
    http: httpx.Client, logged: LoggedRun
) -> None:
    assert http.post(f"/runs/{logged.run_id}/params", json={"values": {"lr": "0.1"}}).is_success
    url = f"/projects/{logged.project}/runs/search"
    for text in INJECTIONS:
        answer = http.post(url, json={"filter": text})
        if answer.status_code == 200:  # the grammar took the text as a quoted value or a key
            assert answer.json()["runs"] == [], (text, answer.json())
        else:
            assert answer.status_code == 422, (text, answer.text)
            assert answer.json()["error"]["message"], text
    for order in ORDERINGS:
        answer = http.post(url, json={"order_by": [order]})
        assert answer.status_code == 422, (order, answer.text)
        assert "order_by" in answer.json()["error"]["message"], order
    for token in ("' OR 1=1 --", "eyJ9'; DROP TABLE runs; --"):
        answer = http.post(url, json={"page_token": token})
        assert answer.status_code == 422 and "page token" in answer.text
    _runs_intact(http, logged)


def test_names_with_quotes_and_sql_are_refused_or_stored_as_written(
    http: httpx.Client, logged: LoggedRun
) -> None:
    nasty = ["x'; DROP TABLE projects; --", 'x" OR "1"="1', "x`); DELETE FROM runs; --", "%", "_"]
    for name in nasty:
        made = http.post("/projects", json={"name": name})
        assert made.status_code == 422, (name, made.text)
        assert made.json()["error"]["message"]
        missing = http.get(f"/projects/{name}")
        assert missing.status_code in (404, 422), (name, missing.text)
        run = http.post(f"/projects/{logged.project}/runs", json={"experiment": name})
        assert run.status_code == 422, (name, run.text)
    named = http.post(f"/projects/{logged.project}/runs", json={"name": "x'; DROP TABLE runs"})
    assert named.status_code == 422 and "run name" in named.text
    # free text (tags, params) is stored and read back byte for byte
    value = "v'); DROP TABLE runs; --"
    tagged = http.post(
        f"/projects/{logged.project}/runs", json={"experiment": "e", "tags": {"note": value}}
    )
    assert tagged.status_code == 201, tagged.text
    run_id = tagged.json()["id"]
    assert http.post(f"/runs/{run_id}/params", json={"values": {"p": value}}).status_code == 204
    stored = http.get(f"/runs/{run_id}").json()
    assert stored["tags"]["note"] == value
    assert stored["params"]["p"] == value
    quoted = value.replace("'", "''")
    found = http.post(
        f"/projects/{logged.project}/runs/search", json={"filter": f"tags.note = '{quoted}'"}
    )
    assert [r["id"] for r in found.json()["runs"]] == [run_id]
    like = http.post(
        f"/projects/{logged.project}/runs/search", json={"filter": "tags.note LIKE '%'"}
    )
    assert [r["id"] for r in like.json()["runs"]] == [run_id]  # LIKE is the grammar's own
    search = http.post(f"/projects/{logged.project}/runs/search", json={})
    assert {r["id"] for r in search.json()["runs"]} == {logged.run_id, run_id}


def test_sql_in_audit_filters_matches_nothing_and_changes_nothing(
    http: httpx.Client, logged: LoggedRun
) -> None:
    mine = http.get("/audit", params={"entity_kind": "run", "entity_id": logged.run_id})
    assert mine.status_code == 200 and mine.json(), mine.text
    for field in ("actor", "entity_id", "kind", "entity_kind"):
        for text in ("' OR '1'='1", "%", "_", "x'; DROP TABLE audit_log; --", "run.%"):
            answer = http.get("/audit", params={field: text, "limit": 5})
            assert answer.status_code == 200, (field, text, answer.text)
            assert answer.json() == [], (field, text)
    for bad in ({"limit": "1; DROP TABLE audit_log"}, {"since": "0 OR 1=1"}):
        refused = http.get("/audit", params=bad)
        assert refused.status_code == 422 and refused.json()["error"]["message"]
    again = http.get("/audit", params={"entity_kind": "run", "entity_id": logged.run_id})
    assert again.json() == mine.json()
    _runs_intact(http, logged)
