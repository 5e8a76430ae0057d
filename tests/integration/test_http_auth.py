"""The HTTP client signs in with RELAY_TOKEN and gets the server's 401 and 403 as our errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from relayml.client import HttpBackend
from relayml.config import get_settings
from relayml.errors import PermissionDenied, Unauthenticated
from tests.fixtures.auth import ADMIN_TOKEN, token_for


def _client(url: str, tmp_path: Path, token: str | None, user: str = "mallory") -> HttpBackend:
    return HttpBackend(get_settings(server_url=url, home=tmp_path / "c", user=user, token=token))


def test_a_token_replaces_the_claimed_name(relay_server: str, tmp_path: Path) -> None:
    signed = _client(relay_server, tmp_path, ADMIN_TOKEN)
    unsigned = _client(relay_server, tmp_path, None)
    try:
        assert signed._http.headers["authorization"] == f"Bearer {ADMIN_TOKEN}"
        assert "x-relay-user" not in signed._http.headers
        assert unsigned._http.headers["x-relay-user"] == "mallory"
        assert "authorization" not in unsigned._http.headers
    finally:
        signed.close()
        unsigned.close()


def test_401_and_403_come_back_as_our_errors_with_the_servers_message(
    relay_server: str, relay_server_home: Path, tmp_path: Path
) -> None:
    project = f"h-{uuid.uuid4().hex[:8]}"
    admin = _client(relay_server, tmp_path, ADMIN_TOKEN, user="alice")
    nobody = _client(relay_server, tmp_path, None)
    wrong = _client(relay_server, tmp_path, "relay_" + "n" * 43)
    viewer_token = token_for(get_settings(home=relay_server_home), "vic")
    viewer = _client(relay_server, tmp_path, viewer_token, user="vic")
    try:
        admin.create_project(project)
        admin.add_member(project, "vic", "viewer")
        with pytest.raises(Unauthenticated, match="sign in first"):
            nobody.list_projects()
        with pytest.raises(Unauthenticated, match="unknown, revoked, expired"):
            wrong.get_project(project)
        assert viewer.get_project(project).name == project
        with pytest.raises(PermissionDenied, match="vic may not create experiments") as denied:
            viewer.create_run(project, "e")
        assert "relay projects add-member" in denied.value.message
        assert viewer.list_experiments(project) == []  # the refused call changed nothing
    finally:
        for client in (admin, nobody, wrong, viewer):
            client.close()
