"""Commands for personal API tokens: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from relayml.cli._common import (
    JsonOption,
    console,
    error_console,
    format_time,
    open_cli_backend,
    print_json,
    table,
)
from relayml.errors import InvalidInput

__all__ = ["tokens_app"]

tokens_app = typer.Typer(
    help="Personal API tokens: what the CLI and SDK send to a relay server (RELAY_TOKEN). "
    "Only a token's hash is stored; its secret is shown once, when it is created.",
    no_args_is_help=True,
)


@tokens_app.command("create")
def tokens_create(
    name: Annotated[
        str, typer.Option("--name", help="What the token is for, e.g. laptop or ci.")
    ] = "token",
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            help="Create it for another user, e.g. a service account (administrators).",
            show_default=False,
        ),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="api: the platform API and model servers; predict: only a model server's "
            "predictions. Repeat for both. Default: api.",
            show_default=False,
        ),
    ] = None,
    expires_days: Annotated[
        float | None,
        typer.Option("--expires-days", help="Days until it expires. Default: 90.", min=0),
    ] = None,
    no_expiry: Annotated[
        bool, typer.Option("--no-expiry", help="Never expire (revoke it when done).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Create a personal API token and print its secret, once.

    Example: relay tokens create --name laptop --expires-days 30

    Example: relay tokens create --user scoring-app --scope predict --no-expiry
    """
    if no_expiry and expires_days is not None:
        raise InvalidInput("give --expires-days N or --no-expiry, not both.")
    days = None if no_expiry else (expires_days if expires_days is not None else 90)
    with open_cli_backend() as backend:
        new = backend.create_token(name, user=user, scopes=scope or ["api"], expires_in_days=days)
    if json_output:
        print_json(new)
        return
    token = new.token
    expires = format_time(token.expires_at) if token.expires_at else "never"
    error_console().print(
        f"Created token {token.id} ({token.name}) for {token.user}, scopes "
        f"{', '.join(token.scopes)}, expires {expires}. The secret below will not be shown "
        "again; keep it in a password manager or your CI's secrets."
    )
    typer.echo(new.secret)
    error_console().print(
        "Use it: export RELAY_TOKEN=<the secret above> (with RELAY_SERVER_URL set), or in one "
        "step: export RELAY_TOKEN=$(relay tokens create ...), since only the secret goes to "
        f"standard output. Revoke it: relay tokens revoke {token.id}"
    )


COLUMNS = (
    "id", "user", "name", "starts with", "scopes", "created", "expires", "last used", "state",
)  # fmt: skip


def _state(revoked: datetime | None, expires: datetime | None) -> str:
    if revoked is not None:
        return f"revoked {format_time(revoked)}"
    if expires is not None and expires <= datetime.now(UTC):
        return "expired"
    return "active"


@tokens_app.command("list")
def tokens_list(
    user: Annotated[
        str | None,
        typer.Option("--user", help="Another user's tokens (administrators).", show_default=False),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List your tokens (or a user's): id, name, the secret's first characters, scopes, state.

    Example: relay tokens list --user ci-bot --json
    """
    with open_cli_backend() as backend:
        tokens = backend.list_tokens(user)
    if json_output:
        print_json(tokens)
        return
    console().print(
        table(
            COLUMNS,
            (
                [
                    str(t.id),
                    t.user,
                    t.name,
                    t.prefix + "…",
                    ", ".join(t.scopes),
                    format_time(t.created_at),
                    format_time(t.expires_at) or "never",
                    format_time(t.last_used_at),
                    _state(t.revoked_at, t.expires_at),
                ]
                for t in tokens
            ),
        )
    )
    if not tokens:
        console().print("No tokens yet. Create one with `relay tokens create --name NAME`.")


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (`relay tokens list`).")],
) -> None:
    """Revoke a token: it fails from the next request on, on every server process.

    Example: relay tokens revoke 7
    """
    with open_cli_backend() as backend:
        token = backend.revoke_token(token_id)
    console().print(f"Revoked token {token.id} ({token.name}) of {token.user}.")
