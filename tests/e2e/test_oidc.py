"""Single sign-on end to end: a real OpenID Connect provider (oidc-provider-mock, a Flask app on a
loopback port in a thread) and a real relay server (uvicorn, a subprocess), driven by httpx as a
browser: it follows the redirects and posts the provider's authorization form.
"""

from __future__ import annotations

import json
import re
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from authlib.deprecate import AuthlibDeprecationWarning

from relayml.backend import LocalBackend
from relayml.config import get_settings
from tests.e2e.identity_server import Server, running_server
from tests.fixtures.net import free_port

with warnings.catch_warnings():
    # oidc-provider-mock 0.3.4 imports authlib.jose, which Authlib deprecates (relayml does not).
    warnings.filterwarnings(
        "ignore", "authlib.jose module is deprecated", category=AuthlibDeprecationWarning
    )
    import oidc_provider_mock

# The provider's own code (in its thread) calls an Authlib API that Authlib deprecates.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:get_jwt_config\(self, grant\) is deprecated:DeprecationWarning"
)

ROLE_MAP = {
    "ml-risk": ["loans:risk_manager"],
    "ml-ds": ["churn:data_scientist"],
    "ml-admins": ["admin"],
}


@dataclass
class Setup:
    """The provider's issuer URL, the relay server and a backend on its store."""

    issuer: str
    server: Server
    backend: LocalBackend
    client_secret: str


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("oidc-home")
    backend = LocalBackend(get_settings(home=home, user="root"))
    backend.create_project("loans")
    backend.create_project("churn")
    backend.add_member("loans", "ann", "viewer")  # granted by hand: the map leaves it alone
    backend.add_user("bo", email="bo@elsewhere.org")  # a name the provider's "bo" cannot take
    backend.add_user("cy", email="cy@example.org")  # made by an admin first: linked by e-mail
    ann = oidc_provider_mock.User(
        sub="ann-subject",
        claims={
            "preferred_username": "ann",
            "name": "Ann Lee",
            "email": "ann@example.org",
            "groups": ["ml-risk", "staff"],
        },
    )
    bo = oidc_provider_mock.User(
        sub="bo-subject", claims={"preferred_username": "bo", "email": "bo@example.org"}
    )
    cy = oidc_provider_mock.User(
        sub="cy-subject",
        claims={"preferred_username": "cy", "email": "cy@example.org", "groups": ["ml-ds"]},
    )
    users = [ann, bo, cy]
    with oidc_provider_mock.run_server_in_thread(port=0, user_claims=users) as provider:
        issuer = f"http://localhost:{provider.server_port}"
        secret = "client-secret-" + uuid.uuid4().hex
        settings = {
            "RELAY_OIDC_ISSUER": issuer,
            "RELAY_OIDC_CLIENT_ID": "relayml",
            "RELAY_OIDC_CLIENT_SECRET": secret,
            "RELAY_OIDC_ROLE_MAP": json.dumps(ROLE_MAP),
        }
        try:
            with running_server(home, **settings) as server:
                yield Setup(issuer=issuer, server=server, backend=backend, client_secret=secret)
        finally:
            backend.close()


def to_provider(browser: httpx.Client, setup: Setup, next_path: str) -> httpx.Response:
    """Start single sign-on at relay; the answer is the provider's authorization form."""
    start = browser.get(f"{setup.server.url}/auth/oidc/login", params={"next": next_path})
    assert start.status_code == 302, start.text
    location = start.headers["location"]
    assert location.startswith(setup.issuer)
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and "openid" in query["scope"][0]
    form = browser.get(location)
    assert form.status_code == 200
    return form


def authorize(browser: httpx.Client, form: httpx.Response, sub: str) -> httpx.Response:
    """Post the provider's form as the user who clicks the button of ``sub``; the redirect back."""
    buttons = re.findall(r'<button[^>]*name="sub" value="([^"]+)"', form.text)
    assert sub in buttons, buttons
    answer = browser.post(str(form.url), data={"sub": sub})
    assert answer.status_code == 302, answer.text
    return answer


def sign_in(setup: Setup, sub: str, browser: httpx.Client) -> httpx.Response:
    """The whole flow; ends on relay's /api/v1/me with the new session."""
    form = to_provider(browser, setup, "/api/v1/me")
    back = authorize(browser, form, sub)
    return browser.get(back.headers["location"], follow_redirects=True)


def test_single_sign_on_creates_the_user_maps_groups_to_roles_and_opens_a_session(
    setup: Setup,
) -> None:
    with httpx.Client(timeout=30) as browser:
        me = sign_in(setup, "ann-subject", browser)
        assert me.status_code == 200, me.text
        assert str(me.url).endswith("/api/v1/me")
        body = me.json()
        assert (body["name"], body["via"], body["is_admin"]) == ("ann", "session", False)
        assert body["roles"] == {"loans": ["risk_manager", "viewer"]}
        user = setup.backend.get_user("ann")
        assert (user.display_name, user.email, user.single_sign_on) == (
            "Ann Lee",
            "ann@example.org",
            True,
        )
        assert not user.has_password
        # the session cookie works on the API, and its CSRF rule holds
        assert browser.get(f"{setup.server.url}/api/v1/tokens").status_code == 200
        refused = browser.post(f"{setup.server.url}/api/v1/tokens", json={"name": "x"})
        assert refused.status_code == 403
    entries = setup.backend.list_audit(entity_kind="project", entity_id="loans", limit=50)
    grants = [e for e in entries if e.actor == "single-sign-on"]
    assert [(e.action, (e.after or {}).get("role")) for e in grants] == [
        ("project.add_member", "risk_manager")
    ]
    signed = setup.backend.list_audit(entity_kind="user", entity_id="ann", limit=50)
    assert {"user.add", "auth.sign_in"} <= {e.action for e in signed}


def test_a_second_sign_in_follows_the_groups_the_provider_now_sends(setup: Setup) -> None:
    with httpx.Client(timeout=30) as browser:
        assert sign_in(setup, "ann-subject", browser).status_code == 200
        changed = browser.put(
            f"{setup.issuer}/users/ann-subject",
            json={"preferred_username": "ann", "name": "Ann Lee-Smith",
                  "email": "ann@example.org", "groups": ["ml-ds", "ml-admins"]},
        )  # fmt: skip
        assert changed.status_code == 204
    with httpx.Client(timeout=30) as browser:
        body = sign_in(setup, "ann-subject", browser).json()
    assert body["is_admin"] is True
    assert body["roles"] == {"churn": ["data_scientist"], "loans": ["viewer"]}
    assert setup.backend.get_user("ann").display_name == "Ann Lee-Smith"
    taken = setup.backend.list_audit(entity_kind="project", entity_id="loans", limit=50)
    assert any(e.action == "project.remove_member" and e.actor == "single-sign-on" for e in taken)
    admin = setup.backend.list_audit(entity_kind="user", entity_id="ann", limit=50)
    assert any(e.action == "user.set_admin" and (e.after or {}).get("admin") for e in admin)


def test_a_mismatched_state_is_refused(setup: Setup) -> None:
    with httpx.Client(timeout=30) as browser:
        form = to_provider(browser, setup, "/api/v1/me")
        back = urlsplit(authorize(browser, form, "ann-subject").headers["location"])
        query = {k: v[0] for k, v in parse_qs(back.query).items()}
        assert query["state"] and query["code"]
        forged = urlunsplit(back._replace(query=urlencode({**query, "state": "forged-state"})))
        refused = browser.get(forged)
        assert refused.status_code == 401
        assert "state does not match" in refused.json()["error"]["message"]
        assert "relay_session" not in browser.cookies
        assert browser.get(f"{setup.server.url}/api/v1/me").status_code == 401
    with httpx.Client(timeout=30) as stranger:  # a callback in a browser that started nothing
        refused = stranger.get(urlunsplit(back))
        assert refused.status_code == 401
        assert "no sign-in is under way" in refused.json()["error"]["message"]


def test_a_provider_name_taken_by_another_user_is_refused(setup: Setup) -> None:
    with httpx.Client(timeout=30) as browser:
        answer = sign_in(setup, "bo-subject", browser)
        assert answer.status_code == 409
        assert "'bo' is taken" in answer.json()["error"]["message"]
    assert not setup.backend.get_user("bo").single_sign_on


def test_an_open_redirect_is_not_followed(setup: Setup) -> None:
    with httpx.Client(timeout=30) as browser:
        form = to_provider(browser, setup, "//evil.example.org/x")
        back = authorize(browser, form, "ann-subject")
        landing = browser.get(back.headers["location"])
        assert landing.status_code == 303
        assert landing.headers["location"] == "/"


def test_a_user_made_beforehand_with_the_same_e_mail_is_linked(setup: Setup) -> None:
    with httpx.Client(timeout=30) as browser:
        me = sign_in(setup, "cy-subject", browser)
        assert me.status_code == 200, me.text
        assert me.json()["roles"] == {"churn": ["data_scientist"]}
    assert setup.backend.get_user("cy").single_sign_on
    linked = setup.backend.list_audit(entity_kind="user", entity_id="cy", kind="user.link_sso")
    assert linked and linked[0].actor == "single-sign-on"


def test_a_disabled_user_cannot_sign_in_with_the_provider(setup: Setup) -> None:
    setup.backend.disable_user("cy")
    try:
        with httpx.Client(timeout=30) as browser:
            refused = sign_in(setup, "cy-subject", browser)
            assert refused.status_code == 401
            assert "disabled" in refused.json()["error"]["message"]
            assert "relay_session" not in browser.cookies
    finally:
        setup.backend.enable_user("cy")
    failed = setup.backend.list_audit(
        entity_kind="user", entity_id="cy", kind="auth.sign_in_failed"
    )
    assert failed and failed[0].after == {
        "via": "oidc",
        "address": "127.0.0.1",
        "reason": "user disabled",
    }


def test_the_client_secret_shows_in_no_log_or_audit_entry(setup: Setup) -> None:
    with httpx.Client(timeout=30) as browser:
        assert sign_in(setup, "ann-subject", browser).status_code == 200
    log = setup.server.log.read_text(errors="replace")
    assert "/auth/oidc/callback" in log
    audit = str(setup.backend.list_audit(limit=10_000))
    assert "auth.sign_in" in audit
    assert setup.client_secret not in log + audit


def test_a_provider_that_cannot_be_reached_is_a_clear_503(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    settings = {"RELAY_OIDC_ISSUER": closed, "RELAY_OIDC_CLIENT_ID": "relayml"}
    with running_server(tmp_path, **settings) as server, httpx.Client(timeout=30) as browser:
        answer = browser.get(f"{server.url}/auth/oidc/login")
    assert answer.status_code == 503
    message = answer.json()["error"]["message"]
    assert closed in message and "RELAY_OIDC_ISSUER" in message
