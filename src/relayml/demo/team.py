"""The people around the churn model, each with their own sign-in, and a server that asks.

Called by churn_demo.py: it makes a user per role (the risk manager, the subject-matter expert,
DevOps; the data scientist is whoever runs the demo), gives each a personal API token, starts a
real `relay server` with sign-in required on the demo's store, and has the production approval
made through it: the data scientist's own token is refused (nobody approves what they logged), the
risk manager's is accepted. The tokens are written to a file only its owner can read, never
printed.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

import relayml as relay
from relayml.demo.production import loopback
from relayml.errors import Conflict, PermissionDenied

console = Console()

# name -> (role in the churn project, display name)
PEOPLE = {
    "rita": ("risk_manager", "Rita Okafor"),
    "sam": ("subject_matter_expert", "Sam Lindqvist"),
    "devon": ("devops", "Devon Park"),
    "dana": ("data_engineer", "Dana Weiss"),
    "sofia": ("software_engineer", "Sofia Marin"),
    "ari": ("ml_engineer", "Ari Tanaka, ML architect"),
    "audrey": ("auditor", "Audrey Blanc"),
}


@dataclass
class Platform:
    """A `relay server` running in this process with sign-in required."""

    url: str
    tokens: dict[str, str]
    tokens_file: Path
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def client(self, user: str) -> Any:
        """The SDK's backend over HTTP, signed in as ``user``."""
        from relayml.client import HttpBackend
        from relayml.config import get_settings

        return HttpBackend(get_settings(server_url=self.url, token=self.tokens[user]))

    def wait(self) -> None:
        """Serve until Ctrl-C."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()

    def stop(self) -> None:
        """Stop the server and wait for it."""
        self._server.should_exit = True
        self._thread.join(30)


def _free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


def sign_up_the_team(project: str) -> tuple[dict[str, str], Path]:
    """A user per person (the one running the demo included), their roles, a token each, and a
    password each for the web pages (both in a file only its owner can read)."""
    import secrets

    from relayml.identity.tokens import create_token
    from relayml.identity.users import add_user, set_password

    backend: Any = relay.get_backend()  # the embedded store's LocalBackend
    store, me = backend.store, backend.actor
    for name, (role, display) in {me: ("data_scientist", me), **PEOPLE}.items():
        try:
            add_user(store, me, name, display_name=display)
        except Conflict:
            pass  # a second run of the demo on the same store
        backend.add_member(project, name, role)
    tokens = {
        name: create_token(store, me, name, "demo", expires_in_days=30)[1] for name in (me, *PEOPLE)
    }
    passwords = {name: secrets.token_urlsafe(12) for name in (me, *PEOPLE)}
    for name, password in passwords.items():
        set_password(store, me, name, password)
    path = Path(backend.settings.home) / "demo-tokens.env"
    path.touch(mode=0o600)
    os.chmod(path, 0o600)
    lines = [f"RELAY_TOKEN_{_var(n)}={t}\n" for n, t in tokens.items()]
    lines += [f"RELAY_PASSWORD_{_var(n)}={p}\n" for n, p in passwords.items()]
    path.write_text("".join(lines))
    return tokens, path


def _var(name: str) -> str:
    """A user name as part of an environment variable's name."""
    return "".join(c if c.isalnum() else "_" for c in name).upper()


def start_platform(
    tokens: dict[str, str], tokens_file: Path, port: int = 8080, *, schedulers: bool = True
) -> Platform:
    """`relay server` with sign-in required, on the demo's store, in a thread of this process.

    schedulers=False: without its alert checks and pipeline scheduler, while the demo drives
    them itself on simulated time (a tick of the server's own would race the story's).
    """
    import uvicorn

    from relayml.api import create_app
    from relayml.backend import LocalBackend

    local: Any = relay.get_backend()
    settings = local.settings
    if not schedulers:
        settings = settings.model_copy(update={"monitor_interval": 0, "schedule_interval": 0})
    app = create_app(LocalBackend(settings), auth=True)
    chosen = _free_port(port)
    config = uvicorn.Config(app, host="127.0.0.1", port=chosen, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="relay-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{chosen}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if loopback().get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return Platform(url, tokens, tokens_file, server, thread)


def approve_through_the_server(platform: Platform, project: str, ref: str, author: str) -> Any:
    """The production approval over HTTP, each person with their own token."""
    console.print(f"\n[bold]Sign-off[/] through {platform.url} (sign-in required):")
    mine = platform.client(author)
    try:
        mine.decide_promotion(project, ref, "production", "approve", "looks good to me")
    except PermissionDenied as refused:
        console.print(f"  {author} (data scientist, own token): [red]refused[/]: {refused}")
    finally:
        mine.close()
    decided = rita_approves(platform, project, ref, "gates pass; segment gap acceptable")
    console.print(
        f"  rita (risk manager, own token): approved {ref} -> production: "
        f"[green]{decided.status}[/]"
    )
    return decided


def rita_approves(platform: Platform, project: str, ref: str, comment: str) -> Any:
    """The risk manager's production approval over HTTP, with her own token."""
    rita = platform.client("rita")
    try:
        return rita.decide_promotion(project, ref, "production", "approve", comment)
    finally:
        rita.close()
