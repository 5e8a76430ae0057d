"""Commands for users (administrators) and `relay whoami`.

On the embedded store the local user (RELAY_USER) is the administrator; against a server
(RELAY_SERVER_URL + RELAY_TOKEN) the token's user acts, and managing users needs an administrator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from relayml.cli._common import (
    JsonOption,
    console,
    format_time,
    key_value_table,
    open_cli_backend,
    print_json,
    table,
)

if TYPE_CHECKING:
    from relayml.domain.identity import User

__all__ = ["users_app", "whoami"]

users_app = typer.Typer(
    help="Users: who may sign in, their e-mail, the administrator role and passwords "
    "(administrators). Tokens: `relay tokens`; project roles: `relay projects add-member`.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="The user name.", show_default=False)]


def _show(user: User, json_output: bool) -> None:
    if json_output:
        print_json(user)
        return
    console().print(
        key_value_table(
            {
                "user": user.name,
                "display name": user.display_name,
                "e-mail": user.email,
                "administrator": "yes" if user.is_admin else "no",
                "password": "set" if user.has_password else "none",
                "single sign-on": "yes" if user.single_sign_on else "no",
                "created": format_time(user.created_at),
                "disabled": format_time(user.disabled_at) or "",
            }
        )
    )


def _ask_password(name: str) -> str:
    return str(
        typer.prompt(
            f"Password for {name} (at least 12 characters; a few words work well)",
            hide_input=True,
            confirmation_prompt=True,
        )
    )


@users_app.command("add")
def users_add(
    name: NameArgument,
    email: Annotated[str, typer.Option("--email", help="E-mail address.")] = "",
    display_name: Annotated[
        str, typer.Option("--display-name", help="Full name, as pages show it.")
    ] = "",
    admin: Annotated[
        bool, typer.Option("--admin", help="Make the user a global administrator.")
    ] = False,
    password_prompt: Annotated[
        bool,
        typer.Option(
            "--password-prompt",
            help="Ask for a password (typed twice, not echoed) for the web pages' sign-in.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Add a user. Give them a token with `relay tokens create --user NAME` and roles with
    `relay projects add-member PROJECT NAME ROLE`.

    Example: relay users add ann --email ann@example.org --display-name "Ann Lee" --password-prompt
    """
    password = _ask_password(name) if password_prompt else None
    with open_cli_backend() as backend:
        user = backend.add_user(
            name, display_name=display_name, email=email, admin=admin, password=password
        )
    if not json_output:
        console().print(f"Added user {user.name}.")
    _show(user, json_output)


@users_app.command("list")
def users_list(json_output: JsonOption = False) -> None:
    """List every user: e-mail, administrator, password, single sign-on, disabled.

    Example: relay users list --json
    """
    with open_cli_backend() as backend:
        users = backend.list_users()
    if json_output:
        print_json(users)
        return
    console().print(
        table(
            ["user", "display name", "e-mail", "admin", "sign-in", "created", "state"],
            (
                [
                    u.name,
                    u.display_name,
                    u.email,
                    "yes" if u.is_admin else "",
                    ", ".join(
                        w
                        for w, on in (("password", u.has_password), ("sso", u.single_sign_on))
                        if on
                    )
                    or "token",
                    format_time(u.created_at),
                    "active" if u.active else f"disabled {format_time(u.disabled_at)}",
                ]
                for u in users
            ),
        )
    )
    if not users:
        console().print("No users yet. Add one with `relay users add NAME`.")


@users_app.command("show")
def users_show(name: NameArgument, json_output: JsonOption = False) -> None:
    """Show one user.

    Example: relay users show ann
    """
    with open_cli_backend() as backend:
        user = backend.get_user(name)
    _show(user, json_output)


@users_app.command("disable")
def users_disable(name: NameArgument) -> None:
    """Stop a user from signing in: their tokens and sessions fail from the next request on.

    Example: relay users disable bob
    """
    with open_cli_backend() as backend:
        user = backend.disable_user(name)
    console().print(f"Disabled {user.name}; `relay users enable {user.name}` undoes it.")


@users_app.command("enable")
def users_enable(name: NameArgument) -> None:
    """Let a disabled user sign in again (their unexpired, unrevoked tokens work again).

    Example: relay users enable bob
    """
    with open_cli_backend() as backend:
        user = backend.enable_user(name)
    console().print(f"Enabled {user.name}.")


@users_app.command("admin")
def users_admin(
    name: NameArgument,
    on: Annotated[
        bool,
        typer.Option("--on/--off", help="Grant (--on) or take back (--off) the role."),
    ] = True,
) -> None:
    """Grant or take back the global administrator role.

    Example: relay users admin ann --on
    """
    with open_cli_backend() as backend:
        user = backend.set_admin(name, on)
    state = "is now an administrator" if user.is_admin else "is no longer an administrator"
    console().print(f"{user.name} {state}.")


@users_app.command("password")
def users_password(
    name: NameArgument,
    remove: Annotated[
        bool, typer.Option("--remove", help="Remove the password (tokens and SSO only).")
    ] = False,
) -> None:
    """Set a user's password for the web pages (asked twice, not echoed), or remove it.

    Example: relay users password ann
    """
    password = None if remove else _ask_password(name)
    with open_cli_backend() as backend:
        backend.set_password(name, password)
    console().print(f"{'Removed' if remove else 'Set'} the password of {name}.")


def whoami(json_output: JsonOption = False) -> None:
    """Show who you are to relayml: your user, how you signed in, your roles in each project.

    Example: RELAY_SERVER_URL=http://relay:8080 RELAY_TOKEN=relay_... relay whoami
    """
    with open_cli_backend() as backend:
        me = backend.whoami()
    if json_output:
        print_json(me)
        return
    how = {
        "local": "the local user of the embedded store (administrator)",
        "token": "a personal API token",
        "session": "a web session",
    }.get(me.via, me.via)
    user = me.user
    console().print(
        key_value_table(
            {
                "user": me.name,
                "display name": user.display_name if user else "",
                "e-mail": user.email if user else "",
                "administrator": "yes" if me.is_admin else "no",
                "signed in with": how,
                "scopes": ", ".join(me.scopes),
            }
        )
    )
    if me.roles:
        console().print(
            table(
                ["project", "roles"],
                ([project, ", ".join(roles)] for project, roles in sorted(me.roles.items())),
            )
        )
    else:
        console().print("No project roles yet; a project owner grants them with "
                        f"`relay projects add-member PROJECT {me.name} ROLE`.")  # fmt: skip
