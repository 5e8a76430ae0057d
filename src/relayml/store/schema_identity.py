"""Tables of identity and of the audit chain (same metadata as schema.py).

Users sign in with personal API tokens (stored as SHA-256 of a random secret), an optional
password (Argon2) or single sign-on (``oidc_subject``). The audit chain's newest hash lives in
``audit_head`` (one row, locked by every writer so that entries chain in commit order) and signed
snapshots of it in ``audit_checkpoints``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)

from relayml.store.schema import BigId, metadata

__all__ = ["api_tokens", "audit_checkpoints", "audit_head", "users"]

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("email", String(320), nullable=False, default=""),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("password_hash", Text, nullable=True),  # Argon2id, encoded with its parameters
    Column("oidc_subject", String(300), nullable=True, unique=True),  # issuer + "|" + sub
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger, nullable=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex of the secret
    Column("prefix", String(16), nullable=False),  # the first characters, to tell tokens apart
    Column("scopes", JSON, nullable=False),  # ["api"] or ["predict"], ...
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("entry_id", BigInteger, nullable=False),  # the newest chained entry (0: none)
    Column("hash", String(64), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("entry_id", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("key_id", String(64), nullable=False),  # sha256 of the public key, hex
    Column("signature", Text, nullable=False),  # base64 Ed25519 signature
    Column("created_by", String(200), nullable=False),
)
