"""Who is acting: users, their API tokens, and the identity a request carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["SCOPES", "Identity", "Me", "NewToken", "TokenInfo", "User"]

# What a token may be used for: "api" is the platform API (and the model server); "predict" is
# the model server's /predict and /v2 inference alone (for the applications that call a model).
SCOPES = ("api", "predict")

_CONFIG = ConfigDict(frozen=True)


class User(BaseModel):
    """A person (or a service account) known to relayml."""

    model_config = _CONFIG

    id: int
    name: str
    display_name: str = ""
    email: str = ""
    is_admin: bool = False
    has_password: bool = False
    single_sign_on: bool = False
    created_at: datetime | None = None
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        """False once an administrator disabled the user."""
        return self.disabled_at is None


class TokenInfo(BaseModel):
    """A personal API token as listed (never its secret)."""

    model_config = _CONFIG

    id: int
    user: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class Identity:
    """The user a request acts for, as a token, a session or single sign-on established it."""

    name: str
    is_admin: bool = False
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(SCOPES))
    via: str = "local"  # local | token | password | oidc | session


class NewToken(BaseModel):
    """A token just created: its listing and its secret, shown this once and never again."""

    model_config = _CONFIG

    token: TokenInfo
    secret: str


class Me(BaseModel):
    """Who a caller is: the name, how they signed in, and their roles in each project."""

    model_config = _CONFIG

    name: str
    is_admin: bool
    via: str
    scopes: list[str]
    user: User | None = None  # None for the embedded store's local user when not a user row
    roles: dict[str, list[str]] = {}
