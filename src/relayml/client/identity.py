"""The identity operations of HttpBackend: the same calls as LocalIdentityOps, over HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from relayml.domain.identity import Me, NewToken, TokenInfo, User

__all__ = ["HttpIdentityOps"]


def _user(name: str) -> str:
    return f"/users/{quote(name, safe='')}"


class HttpIdentityOps:
    """Who am I, users and personal API tokens, on a relay server (the token's user acts)."""

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # provided by HttpBackend

    def _json(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # provided by HttpBackend

    def whoami(self) -> Me:
        """Who the server says this client is, with roles per project."""
        result: Me = self._json("GET", "/me", Me)
        return result

    def list_users(self) -> list[User]:
        """Every user (administrators)."""
        result: list[User] = self._json("GET", "/users", list[User])
        return result

    def add_user(
        self,
        name: str,
        *,
        display_name: str = "",
        email: str = "",
        admin: bool = False,
        password: str | None = None,
    ) -> User:
        """Create a user (administrators)."""
        body = {
            "name": name,
            "display_name": display_name,
            "email": email,
            "admin": admin,
            "password": password,
        }
        result: User = self._json("POST", "/users", User, json=body)
        return result

    def get_user(self, name: str) -> User:
        """One user (administrators)."""
        result: User = self._json("GET", _user(name), User)
        return result

    def disable_user(self, name: str) -> User:
        """Stop a user from signing in (administrators)."""
        result: User = self._json("POST", _user(name) + "/disable", User)
        return result

    def enable_user(self, name: str) -> User:
        """Let a disabled user sign in again (administrators)."""
        result: User = self._json("POST", _user(name) + "/enable", User)
        return result

    def set_admin(self, name: str, admin: bool) -> User:
        """Grant or take back the administrator role (administrators)."""
        result: User = self._json("PUT", _user(name) + "/admin", User, json={"admin": admin})
        return result

    def set_password(self, name: str, password: str | None) -> User:
        """Set or remove a user's password (administrators)."""
        body = {"password": password}
        result: User = self._json("PUT", _user(name) + "/password", User, json=body)
        return result

    def create_token(
        self,
        name: str,
        *,
        user: str | None = None,
        scopes: Sequence[str] = ("api",),
        expires_in_days: float | None = 90,
    ) -> NewToken:
        """A new token, own or (administrators) another user's; the secret comes once."""
        body = {"name": name, "scopes": list(scopes), "expires_in_days": expires_in_days}
        path = "/tokens" if user is None else _user(user) + "/tokens"
        result: NewToken = self._json("POST", path, NewToken, json=body)
        return result

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        """Own tokens, or (administrators) another user's."""
        path = "/tokens" if user is None else _user(user) + "/tokens"
        result: list[TokenInfo] = self._json("GET", path, list[TokenInfo])
        return result

    def revoke_token(self, token_id: int) -> TokenInfo:
        """Revoke an own token (administrators: anyone's)."""
        result: TokenInfo = self._json("DELETE", f"/tokens/{int(token_id)}", TokenInfo)
        return result
