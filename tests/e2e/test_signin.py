"""Password sign-in for the web pages against a real server: session cookie, CSRF, rate limit.

The server requires identity (tests/e2e/identity_server.py); its users are made beforehand on
the same embedded store. Sign-in failures from other "addresses" are sent through uvicorn's
trusted X-Forwarded-For (loopback is trusted), so that the per-address limit of one test does
not lock the others out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from relayml.api.sessions import SessionManager, csrf_token
from relayml.backend import LocalBackend
from relayml.config import get_settings
from tests.e2e.identity_server import Server, running_server

ANN_PASSWORD = "ann's long passphrase"


@dataclass
class Site:
    """The server, the administrator's token and a LocalBackend on the same store."""

    server: Server
    admin_token: str
    backend: LocalBackend

    def client(self, **kwargs: object) -> httpx.Client:
        """An HTTP client of the server (it keeps cookies, as a browser does)."""
        return httpx.Client(base_url=self.server.url, timeout=30, **kwargs)  # type: ignore[arg-type]

    def admin(self) -> httpx.Client:
        """A client sending the administrator's token."""
        return self.client(headers={"Authorization": f"Bearer {self.admin_token}"})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("signin-home")
    backend = LocalBackend(get_settings(home=home, user="root"))
    backend.add_user("root", admin=True)
    admin_token = backend.create_token("admin").secret
    backend.add_user("ann", display_name="Ann Lee", password=ANN_PASSWORD)
    backend.create_project("loans")
    backend.add_member("loans", "ann", "risk_manager")
    try:
        with running_server(home) as server:
            yield Site(server=server, admin_token=admin_token, backend=backend)
    finally:
        backend.close()


def sign_in(client: httpx.Client, user: str, password: str, **kwargs: object) -> httpx.Response:
    """POST /auth/sign-in with a JSON body."""
    return client.post("/auth/sign-in", json={"user": user, "password": password}, **kwargs)  # type: ignore[arg-type]


def test_a_password_sign_in_opens_a_session_that_the_api_accepts(site: Site) -> None:
    with site.client() as browser:
        assert browser.get("/api/v1/me").status_code == 401
        answer = sign_in(browser, "ann", ANN_PASSWORD)
        assert answer.status_code == 200, answer.text
        assert answer.json()["user"] == "ann" and answer.json()["csrf_token"]
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("relay_session=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=43200" in cookie
        assert "Secure" not in cookie  # plain http
        me = browser.get("/api/v1/me").json()
        assert (me["name"], me["via"], me["is_admin"]) == ("ann", "session", False)
        assert me["roles"] == {"loans": ["risk_manager"]}
        assert browser.get("/api/v1/users").status_code == 403  # a session is no admin


def test_a_form_sign_in_works_too_and_https_gets_a_secure_cookie(site: Site) -> None:
    with site.client() as browser:
        answer = browser.post(
            "/auth/sign-in",
            data={"user": "ann", "password": ANN_PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert answer.status_code == 200, answer.text
        assert "Secure" in answer.headers["set-cookie"]


def test_unsafe_requests_of_a_session_need_its_csrf_token(site: Site) -> None:
    with site.client() as browser:
        csrf = sign_in(browser, "ann", ANN_PASSWORD).json()["csrf_token"]
        before = len(browser.get("/api/v1/tokens").json())  # GET needs no token
        refused = browser.post("/api/v1/tokens", json={"name": "forged"})
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["error"]["message"]
        wrong = browser.post(
            "/api/v1/tokens", json={"name": "forged"}, headers={"X-CSRF-Token": csrf[:-2] + "xx"}
        )
        assert wrong.status_code == 403
        assert len(browser.get("/api/v1/tokens").json()) == before  # nothing was created
        made = browser.post("/api/v1/tokens", json={"name": "mine"}, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201, made.text
        assert made.json()["token"]["user"] == "ann"
        # the form field does it for forms; signing out is an unsafe request too
        assert browser.post("/auth/sign-out", data={"other": "x"}).status_code == 403
        out = browser.post("/auth/sign-out", data={"csrf_token": csrf})
        assert out.status_code == 200, out.text
        assert browser.get("/api/v1/me").status_code == 401
    ends = site.backend.list_audit(entity_kind="user", entity_id="ann", kind="auth.sign_out")
    assert ends and ends[0].actor == "ann"


def test_bearer_requests_need_no_csrf_token_even_with_a_cookie(site: Site) -> None:
    with site.client() as browser:
        sign_in(browser, "ann", ANN_PASSWORD)
        made = browser.post(
            "/api/v1/tokens",
            json={"name": "ci"},
            headers={"Authorization": f"Bearer {site.admin_token}"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["token"]["user"] == "root"  # the token decides, not the cookie


def test_disabling_the_user_or_changing_the_password_ends_the_session(site: Site) -> None:
    name = f"eve-{uuid.uuid4().hex[:6]}"
    site.backend.add_user(name, password="eve's first passphrase")
    with site.client() as browser, site.admin() as admin:
        sign_in(browser, name, "eve's first passphrase")
        assert browser.get("/api/v1/me").status_code == 200
        assert admin.post(f"/api/v1/users/{name}/disable").status_code == 200
        assert browser.get("/api/v1/me").status_code == 401
        assert admin.post(f"/api/v1/users/{name}/enable").status_code == 200
        assert browser.get("/api/v1/me").status_code == 200
        changed = admin.put(f"/api/v1/users/{name}/password", json={"password": "a new passphrase"})
        assert changed.status_code == 200, changed.text
        assert browser.get("/api/v1/me").status_code == 401
        assert sign_in(browser, name, "a new passphrase").status_code == 200
        assert browser.get("/api/v1/me").json()["name"] == name


def test_a_forged_or_tampered_cookie_is_no_session(site: Site) -> None:
    with site.client() as browser:
        sign_in(browser, "ann", ANN_PASSWORD)
        value = browser.cookies["relay_session"]
        _payload, _, signature = value.partition(".")
        for forged in (value[:-3] + "abc", "eyJ1Ijoicm9vdCJ9." + signature):
            with site.client(cookies={"relay_session": forged}) as other:
                assert other.get("/api/v1/me").status_code == 401


def test_failed_sign_ins_are_audited_and_limited_with_retry_after(site: Site) -> None:
    name = f"fay-{uuid.uuid4().hex[:6]}"
    site.backend.add_user(name, password="fay's good passphrase")
    address = {"X-Forwarded-For": "203.0.113.7"}
    with site.client() as browser:
        for _ in range(5):
            failed = sign_in(browser, name, "not her passphrase", headers=address)
            assert failed.status_code == 401
            assert "wrong user name or password" in failed.json()["error"]["message"]
        limited = sign_in(browser, name, "fay's good passphrase", headers=address)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "try again in" in limited.json()["error"]["message"]
        # the address is limited for other names too; another address is not limited for them
        assert sign_in(browser, "ann", ANN_PASSWORD, headers=address).status_code == 429
        assert sign_in(browser, "ann", ANN_PASSWORD).status_code == 200
    with site.admin() as admin:
        entries = admin.get(
            "/api/v1/audit", params={"entity_kind": "user", "entity_id": name}
        ).json()
    failures = [e for e in entries if e["action"] == "auth.sign_in_failed"]
    assert len(failures) == 5
    assert failures[0]["after"]["reason"] == "wrong password"
    assert failures[0]["after"]["address"] == "203.0.113.7"
    assert "passphrase" not in str(entries)


def test_bad_sign_in_bodies_get_a_clear_422(site: Site) -> None:
    with site.client() as browser:
        for body in (b"", b"not json", b'{"user": "ann"}', b'["ann", "x"]'):
            answer = browser.post(
                "/auth/sign-in", content=body, headers={"content-type": "application/json"}
            )
            assert answer.status_code == 422
            assert '{"user": NAME, "password": PASSWORD}' in answer.json()["error"]["message"]


def test_single_sign_on_says_how_to_configure_it_when_it_is_not(site: Site) -> None:
    with site.client() as browser:
        answer = browser.get("/auth/oidc/login")
        assert answer.status_code == 404
        assert "RELAY_OIDC_ISSUER" in answer.json()["error"]["message"]


def test_the_session_key_file_is_private(site: Site) -> None:
    key = Path(site.backend.settings.home) / "session.key"
    assert key.exists()
    assert key.stat().st_mode & 0o777 == 0o600


def test_csrf_token_gives_pages_the_token_of_the_requests_session(site: Site) -> None:
    with site.client() as browser:
        expected = sign_in(browser, "ann", ANN_PASSWORD).json()["csrf_token"]
        cookie = browser.cookies["relay_session"]
    # Another process on this machine (a page, a second worker) reads the same key file.
    pages = Starlette()
    pages.state.sessions = SessionManager(site.backend.settings, site.backend.store)
    scope = {
        "type": "http",
        "app": pages,
        "headers": [(b"cookie", f"relay_session={cookie}".encode())],
    }
    assert csrf_token(Request(scope)) == expected
    assert csrf_token(Request({"type": "http", "app": pages, "headers": []})) is None


ADMIN_ROUTES = [
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users/ann"),
    ("POST", "/api/v1/users/ann/disable"),
    ("POST", "/api/v1/users/ann/enable"),
    ("PUT", "/api/v1/users/ann/admin"),
    ("PUT", "/api/v1/users/ann/password"),
    ("GET", "/api/v1/users/root/tokens"),
    ("POST", "/api/v1/users/root/tokens"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES, ids=" ".join)
def test_managing_users_needs_an_administrator_and_a_token(
    site: Site, method: str, path: str
) -> None:
    body = {"name": "x", "admin": True, "password": "a long passphrase!"}
    with site.client() as anonymous:
        assert anonymous.request(method, path, json=body).status_code == 401
    ann_token = site.backend.create_token(f"t-{uuid.uuid4().hex[:6]}", user="ann").secret
    with site.client(headers={"Authorization": f"Bearer {ann_token}"}) as ann:
        refused = ann.request(method, path, json=body)
        assert refused.status_code == 403
        assert "not an administrator" in refused.json()["error"]["message"]
    assert not site.backend.get_user("ann").is_admin
    assert site.backend.get_user("ann").active
    assert "x" not in [u.name for u in site.backend.list_users()]
