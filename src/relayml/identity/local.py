"""The identity operations of LocalBackend: users, tokens and "who am I", in this process.

In-process the local user (RELAY_USER) is the administrator of the embedded store, as the rest
of the embedded mode is; the server's routes check permissions before they call the services.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from relayml.domain.identity import Identity, Me, NewToken, TokenInfo, User
from relayml.errors import NotFound
from relayml.identity import tokens as token_service
from relayml.identity import users as user_service
from relayml.store import Store
from relayml.store.schema import project_members, projects
from relayml.store.schema_identity import users

__all__ = ["LocalIdentityOps", "describe"]


def describe(store: Store, identity: Identity) -> Me:
    """Who ``identity`` is: their user record (if any) and their roles in each project."""
    with store.read() as conn:
        row = conn.execute(select(users).where(users.c.name == identity.name)).first()
        rows = conn.execute(
            select(projects.c.name, project_members.c.role)
            .join(project_members, project_members.c.project_id == projects.c.id)
            .where(project_members.c.user == identity.name)
            .order_by(projects.c.name, project_members.c.role)
        ).all()
    roles: dict[str, list[str]] = {}
    for project, role in rows:
        roles.setdefault(project, []).append(role)
    return Me(
        name=identity.name,
        is_admin=identity.is_admin,
        via=identity.via,
        scopes=sorted(identity.scopes),
        user=user_service.to_user(row) if row is not None else None,
        roles=roles,
    )


class LocalIdentityOps:
    """Users and personal API tokens on the embedded store; the local user is the admin."""

    store: Store
    actor: str

    def _me(self) -> str:
        """The local user's name, which must be a user of the store to own tokens."""
        try:
            user_service.get_user(self.store, self.actor)
        except NotFound:
            raise NotFound(
                f"{self.actor!r} (RELAY_USER, the local user) is not a user of this store yet; "
                f"add yourself with `relay users add {self.actor} --admin`, or name the owner "
                "with --user."
            ) from None
        return self.actor

    def whoami(self) -> Me:
        """Who this backend acts for, with their roles per project."""
        return describe(self.store, Identity(name=self.actor, is_admin=True, via="local"))

    def list_users(self) -> list[User]:
        """Every user, by name."""
        return user_service.list_users(self.store)

    def add_user(
        self,
        name: str,
        *,
        display_name: str = "",
        email: str = "",
        admin: bool = False,
        password: str | None = None,
    ) -> User:
        """Create a user."""
        return user_service.add_user(
            self.store,
            self.actor,
            name,
            display_name=display_name,
            email=email,
            admin=admin,
            password=password,
        )

    def get_user(self, name: str) -> User:
        """One user."""
        return user_service.get_user(self.store, name)

    def disable_user(self, name: str) -> User:
        """Stop a user from signing in."""
        return user_service.disable_user(self.store, self.actor, name)

    def enable_user(self, name: str) -> User:
        """Let a disabled user sign in again."""
        return user_service.enable_user(self.store, self.actor, name)

    def set_admin(self, name: str, admin: bool) -> User:
        """Grant or take back the administrator role."""
        return user_service.set_admin(self.store, self.actor, name, admin)

    def set_password(self, name: str, password: str | None) -> User:
        """Set or remove a user's password."""
        return user_service.set_password(self.store, self.actor, name, password)

    def create_token(
        self,
        name: str,
        *,
        user: str | None = None,
        scopes: Sequence[str] = ("api",),
        expires_in_days: float | None = 90,
    ) -> NewToken:
        """A new token for the local user (or ``user``): its listing and its secret, once."""
        owner = user if user is not None else self._me()
        info, secret = token_service.create_token(
            self.store, self.actor, owner, name, scopes=scopes, expires_in_days=expires_in_days
        )
        return NewToken(token=info, secret=secret)

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        """The tokens of the local user (or of ``user``), newest first."""
        return token_service.list_tokens(self.store, user if user is not None else self._me())

    def revoke_token(self, token_id: int) -> TokenInfo:
        """Revoke any token (the local user is the administrator)."""
        return token_service.revoke_token(self.store, self.actor, token_id)
