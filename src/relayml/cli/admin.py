"""Operating commands: settings, database migrations and the HTTP server."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from relayml.cli._common import (
    JsonOption,
    console,
    print_json,
    settings,
    table,
    truncate,
)
from relayml.errors import StoreNotReady

if TYPE_CHECKING:
    from relayml.store import Store

__all__ = ["config", "db_app", "server"]

db_app = typer.Typer(
    help="Migrate and inspect the metadata database (RELAY_DATABASE_URL).",
    no_args_is_help=True,
)


def config(json_output: JsonOption = False) -> None:
    """Show every setting: its environment variable, value, where it came from, and help.

    Example: RELAY_PROJECT=churn relay config
    """
    rows = settings().describe()
    if json_output:
        print_json(rows)
        return
    console().print(
        table(
            ["setting", "environment variable", "value", "source", "help"],
            ([r["name"], r["env"], truncate(r["value"], 50), r["source"], r["help"]] for r in rows),
        )
    )


def _open_store(url: str, *, upgrade: bool) -> tuple[Store, str | None]:
    """The store at url and the revision it had when opened, upgraded when asked."""
    from sqlalchemy.exc import OperationalError

    from relayml.config import redact_url
    from relayml.store import Store

    try:
        store = Store(url, migrate=upgrade, check=False)
    except OperationalError as exc:
        raise StoreNotReady(
            f"cannot open the metadata database {redact_url(url)}: {str(exc.orig).strip()}. "
            "Check RELAY_DATABASE_URL and that the database server runs."
        ) from None
    return store, store.revision_at_open


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the metadata database to the newest schema (needed once per release on PostgreSQL).

    SQLite stores migrate themselves when opened; this command is safe to run again.

    Example: RELAY_DATABASE_URL=postgresql+psycopg://relay@db/relay relay db upgrade
    """
    from relayml.config import redact_url
    from relayml.store import HEAD_REVISION

    url = settings().resolved_database_url
    store, before = _open_store(url, upgrade=True)
    store.dispose()
    shown = redact_url(url)
    if before == HEAD_REVISION:
        console().print(f"{shown} is already at the newest revision {HEAD_REVISION}.")
    else:
        console().print(
            f"Upgraded {shown} from revision {before or 'none (empty)'} to {HEAD_REVISION}."
        )


@db_app.command("current")
def db_current(json_output: JsonOption = False) -> None:
    """Show the schema revision of the metadata database and the one this relayml needs.

    Example: relay db current --json
    """
    from relayml.config import redact_url
    from relayml.store import HEAD_REVISION

    url = settings().resolved_database_url
    store, revision = _open_store(url, upgrade=False)
    store.dispose()
    info = {
        "database": redact_url(url),
        "revision": revision,
        "head": HEAD_REVISION,
        "up_to_date": revision == HEAD_REVISION,
    }
    if json_output:
        print_json(info)
        return
    state = "up to date" if revision == HEAD_REVISION else "run `relay db upgrade`"
    console().print(f"database:  {info['database']}")
    console().print(f"revision:  {revision or 'none (empty)'} (newest: {HEAD_REVISION}, {state})")


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _loopback(host: str) -> bool:
    import ipaddress

    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def server(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0: every one).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8080,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each opens the store itself).")
    ] = 1,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="No sign-in: every caller is the local user, an administrator. For one person "
            "on this machine: refused on any address but loopback.",
        ),
    ] = False,
) -> None:
    """Serve the relayml HTTP API (and /healthz) on the configured store, until Ctrl-C.

    Every route but /healthz and /readyz needs a signed-in user (RELAY_TOKEN on the client). On
    the first start with no users, the server creates the administrator RELAY_USER and prints a
    one-time token (or stores RELAY_BOOTSTRAP_TOKEN). Clients reach it by setting
    RELAY_SERVER_URL to the printed URL.

    Example: relay server --host 0.0.0.0 --port 8080 --workers 4
    """
    from relayml.cli._common import print_error

    current = settings()
    auth = current.auth and not no_auth
    if not auth and not _loopback(host):
        print_error(
            f"refusing to serve {host} without sign-in: --no-auth (or RELAY_AUTH=false) is for "
            "one person on this machine, so it listens on loopback only (--host 127.0.0.1). "
            "To share the server, keep auth on and give each person a token."
        )
        raise typer.Exit(2)

    import uvicorn

    from relayml.backend import LocalBackend
    from relayml.config import redact_url

    backend = LocalBackend(current)  # fails here, clearly, when the store needs an upgrade
    url = _url(host, port)
    out = console()
    out.print(f"relay server: serving {url} (store {redact_url(current.resolved_database_url)})")
    if auth:
        from relayml.identity.bootstrap import bootstrap_admin

        secret = bootstrap_admin(backend.store, current.user, current.bootstrap_token)
        if secret is not None:
            # Shown here once, on the terminal only (never logged); the store keeps its hash.
            out.print(
                f"First start: created the administrator {current.user!r}. Their API token, "
                f"shown only this once:\n\n    RELAY_TOKEN={secret}\n\n"
                "Keep it secret; `relay users add` and `relay tokens create` make more."
            )
    else:
        out.print("Sign-in is off (--no-auth): every caller acts as the local user, an admin.")
    out.print(
        f"Web pages: {url}/ (sign in with a password or a token). "
        f"Clients: RELAY_SERVER_URL={url}   Press Ctrl-C to stop."
    )
    sys.stdout.flush()
    if workers == 1:
        import gc

        from relayml.api.app import create_app

        app = create_app(backend, auth=auth)
        # what start-up loaded (libraries, compiled statements) lives as long as the process:
        # keep the cyclic collector from scanning it again at each full collection (a pause of
        # a few hundred ms on a busy 2-core machine, in the middle of some request)
        gc.collect()
        gc.freeze()
        uvicorn.run(app, host=host, port=port)
        return
    backend.close()
    factory = "app_from_environment" if auth else "app_without_auth"
    uvicorn.run(
        f"relayml.api.app:{factory}",
        factory=True,
        workers=workers,
        host=host,
        port=port,
    )
