"""Password hashes (Argon2id through argon2-cffi): only the hash is ever stored."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from relayml.errors import InvalidInput

__all__ = ["MIN_LENGTH", "check_strength", "hash_password", "needs_rehash", "verify_password"]

MIN_LENGTH = 12
_HASHER = PasswordHasher()  # argon2-cffi's defaults (RFC 9106's low-memory profile)


def check_strength(password: str) -> None:
    """Refuse a password too short to resist guessing."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"a password needs at least {MIN_LENGTH} characters; a phrase of a few words is best."
        )


def hash_password(password: str) -> str:
    """The Argon2id hash of a password, with its salt and parameters."""
    check_strength(password)
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when the password matches the stored hash (constant time inside argon2)."""
    if not stored:
        _HASHER.hash("spend the same time either way")  # no user or no password: same cost
        return False
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored)
