"""The inventory and model risk reports end to end: the CLI, a real server with identity on (who
may read, who may set tiers), and the HTML report in a real browser without network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import relayml as relay
from relayml.backend import LocalBackend
from relayml.client.http import HttpBackend
from relayml.config import get_settings
from relayml.errors import PermissionDenied, Unauthenticated
from tests.e2e.identity_server import Server, running_server
from tests.fixtures.net import loopback
from tests.fixtures.warm_cli import run_relay
from tests.integration.test_model_reports import build


@dataclass
class Site:
    """The churn store behind a server with identity on, and a token per person."""

    home: Path
    server: Server
    tokens: dict[str, str]
    clients: list[HttpBackend]

    def as_user(self, name: str | None) -> HttpBackend:
        """A client of the server acting with name's token (None: no token), closed at the end."""
        settings = get_settings(home=self.home, server_url=self.server.url, user=name)
        if name is not None:
            settings = settings.model_copy(update={"token": self.tokens[name]})
        self.clients.append(HttpBackend(settings))
        return self.clients[-1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("reports-e2e") / "home"
    build(home)
    relay.init(project="teardown", home=home.parent / "teardown")
    backend = LocalBackend(get_settings(home=home, user="root"))
    tokens = {}
    try:
        backend.add_user("root", admin=True)
        for name in ("rita", "vic", "aud", "olga"):
            backend.add_user(name)
        backend.add_member("churn", "vic", "viewer")
        backend.add_member("churn", "aud", "auditor")
        backend.create_project("other", owner="olga")
        backend.add_member("other", "olga", "owner")
        for name in ("root", "rita", "vic", "aud", "olga"):
            tokens[name] = backend.create_token("t", user=name).secret
        with running_server(home) as server:
            opened = Site(home=home, server=server, tokens=tokens, clients=[])
            yield opened
            for client in opened.clients:
                client.close()
    finally:
        backend.close()


def test_viewers_read_the_inventory_auditors_build_reports_risk_managers_set_tiers(
    site: Site,
) -> None:
    vic = site.as_user("vic")
    assert {e.model for e in vic.inventory()} == {"churn", "legacy"}
    with pytest.raises(PermissionDenied, match="vic may not build and store a model risk report"):
        vic.build_model_report("churn", "churn", fmt="md")
    report = site.as_user("aud").build_model_report("churn", "churn", fmt="md")
    assert report.built_by == "aud" and "## Gates and approvals" in report.content
    with pytest.raises(PermissionDenied, match="vic may not set a model's risk tier"):
        vic.set_risk_tier("churn", "churn", "high", "customer offers")
    with pytest.raises(PermissionDenied):
        site.as_user("aud").retire_model("churn", "churn", "no")
    with pytest.raises(PermissionDenied, match="aud may not set a model's risk tier"):
        site.as_user("aud").set_risk_tier("churn", "churn", "low", "the auditor only reads")
    admin = site.as_user("root").set_risk_tier("churn", "legacy", "low", "reporting only")
    assert admin.risk_tier == "low" and admin.risk_tier_set_by == "root"
    assert site.as_user("olga").inventory() == []  # churn is not hers to see
    entry = site.as_user("rita").set_risk_tier("churn", "churn", "high", "decides offers")
    assert entry.risk_tier == "high" and entry.risk_tier_set_by == "rita"
    assert {e.model: e.risk_tier for e in vic.inventory()}["churn"] == "high"
    answer = loopback.get(site.server.url + "/api/v1/inventory")
    assert answer.status_code == 401
    with pytest.raises(Unauthenticated):
        site.as_user(None).inventory()


def _relay(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env = {**clean, "RELAY_HOME": str(home), "COLUMNS": "200", **env}
    return run_relay(args, env=env, cwd=Path.cwd(), timeout=300)


def test_the_cli_writes_reports_and_the_inventory(site: Site, tmp_path: Path) -> None:
    out = _relay(site.home, "inventory", "--json")
    assert out.returncode == 0, out.stderr
    listed = {e["model"]: e for e in json.loads(out.stdout)}
    assert listed["churn"]["environments"] == {"staging": 2, "production": 2}
    page = tmp_path / "churn.html"
    done = _relay(site.home, "report", "model", "churn", "-p", "churn", "--out", str(page))
    assert done.returncode == 0, done.stderr
    assert "model risk report of churn/2" in done.stdout and page.read_text().startswith("<!DOC")
    md = tmp_path / "churn-1.md"
    done = _relay(site.home, "report", "model", "churn", "-p", "churn", "--version", "1",
                  "--format", "md", "--out", str(md))  # fmt: skip
    assert done.returncode == 0 and "never in production" in md.read_text()
    inv = tmp_path / "inventory.md"
    assert (
        _relay(site.home, "report", "inventory", "--format", "md", "--out", str(inv)).returncode
        == 0
    )
    assert "| churn | legacy |" in inv.read_text()
    bad = _relay(site.home, "report", "model", "churn", "-p", "churn", "--format", "docx",
                 "--out", str(tmp_path / "x.docx"))  # fmt: skip
    assert bad.returncode == 1 and "unknown report format 'docx'" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "x.docx").exists()
    # over HTTP with a token: the same command, built on the server; a PDF travels as base64
    remote = tmp_path / "remote.html"
    done = _relay(site.home, "report", "model", "churn", "-p", "churn", "--out", str(remote),
                  RELAY_SERVER_URL=site.server.url, RELAY_TOKEN=site.tokens["aud"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "by aud from the store" in remote.read_text()
    pdf = tmp_path / "remote.pdf"
    aud = {"RELAY_SERVER_URL": site.server.url, "RELAY_TOKEN": site.tokens["aud"]}
    done = _relay(site.home, "report", "model", "churn", "-p", "churn", "-f", "pdf", "--out",
                  str(pdf), **aud)  # fmt: skip
    assert done.returncode == 0, done.stderr
    from pypdf import PdfReader

    pages = PdfReader(pdf).pages
    assert "by aud from the store" in " ".join(p.extract_text() for p in pages)
    inv = tmp_path / "inventory.pdf"
    assert _relay(site.home, "report", "inventory", "-f", "pdf", "--out", str(inv)).returncode == 0
    assert "Model inventory" in PdfReader(inv).pages[0].extract_text()


def test_without_weasyprint_a_pdf_asks_for_the_extra(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "churn.pdf"
    hide = "import sys; sys.modules['weasyprint'] = None; from relayml.cli import main; main()"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    done = subprocess.run(
        [sys.executable, "-c", hide, "report", "model", "churn", "-p", "churn", "--format", "pdf",
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**clean, "RELAY_HOME": str(site.home)},
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr  # one line
    assert "pip install 'relayml[pdf]'" in done.stderr and not out.exists()


def test_the_card_is_set_by_the_data_scientist_and_read_by_viewers(
    site: Site, tmp_path: Path
) -> None:
    done = _relay(site.home, "models", "card", "set", "churn/2", "-p", "churn",
                  "--intended-use", "Rank customers for retention offers.",
                  "--limitations", "Not for pricing.")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Rank customers for retention offers." in done.stdout
    card = site.as_user("vic").get_model_card("churn", "churn@production")
    assert card.current is not None and card.current.limitations == "Not for pricing."
    with pytest.raises(
        PermissionDenied,
        match="vic may not register models and versions, log evaluations, set model cards",
    ):
        site.as_user("vic").set_model_card("churn", "churn/2", limitations="mine")
    with pytest.raises(PermissionDenied):
        site.as_user("aud").set_model_card("churn", "churn/2", limitations="mine")
    vic = {"RELAY_SERVER_URL": site.server.url, "RELAY_TOKEN": site.tokens["vic"]}
    shown = _relay(site.home, "models", "card", "show", "churn@production", "-p", "churn",
                   "--history", **vic)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "Not for pricing." in shown.stdout and "History" in shown.stdout
    empty = _relay(site.home, "models", "card", "show", "churn/1", "-p", "churn")
    assert empty.returncode == 0 and "has no model card yet" in empty.stdout
    nothing = _relay(site.home, "models", "card", "set", "churn/1", "-p", "churn")
    assert nothing.returncode == 1 and "say what to set" in nothing.stderr


def test_the_html_report_opens_in_a_browser_without_network(site: Site, tmp_path: Path) -> None:
    from playwright import sync_api

    chromium = shutil.which("chromium")
    assert chromium, (
        "Debian's chromium is missing: run scripts/provision-test-deps.sh (make test does)"
    )
    report = site.as_user("aud").build_model_report("churn", "churn")
    page_file = tmp_path / "churn.html"
    page_file.write_text(report.content)
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri())
        assert page.locator("section").count() == 12
        assert page.locator("svg").count() >= 2
        browser.close()
    assert errors == [] and all(url.startswith("file:") for url in requests)
