"""The server's Ed25519 key that signs the audit chain's checkpoints (``cryptography``).

The private key lives in a PEM file (``Settings.audit_key_file``), created on first use with
mode 0600. A key is named by its key id: the sha256 hex of its raw 32-byte public key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from relayml.errors import InvalidInput, StoreNotReady

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = [
    "key_id",
    "load_or_create_key",
    "load_private_key",
    "parse_public_key",
    "public_pem",
    "sign",
    "signature_valid",
]


def load_private_key(path: Path) -> Ed25519PrivateKey | None:
    """The key in the PEM file at path, or None when there is no file; StoreNotReady if it is
    not an unencrypted Ed25519 private key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreNotReady(
            f"cannot read the audit signing key {path}: {exc.strerror}. Check RELAY_AUDIT_KEY_FILE "
            "and the file's permissions."
        ) from None
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise StoreNotReady(
            f"the audit signing key {path} is not an unencrypted PEM private key ({exc}); "
            "restore the server's key file or point RELAY_AUDIT_KEY_FILE at it."
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise StoreNotReady(
            f"the audit signing key {path} is a {type(key).__name__}, not an Ed25519 key; "
            "point RELAY_AUDIT_KEY_FILE at the server's Ed25519 key."
        )
    return key


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The key at path, created (mode 0600, never overwritten) when there is none."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    found = load_private_key(path)
    if found is not None:
        return found
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        again = load_private_key(path)
        assert again is not None
        return again
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as PEM text (SubjectPublicKeyInfo)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """sha256 hex of the raw 32-byte public key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return hashlib.sha256(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()


def parse_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text or base64 of its 32 raw bytes; InvalidInput if not."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode())
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput(
            "the public key is not an Ed25519 key in PEM (-----BEGIN PUBLIC KEY-----) or base64 "
            "of its 32 raw bytes; pass the `public_key` of a checkpoint file or the server's key."
        )
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """The base64 Ed25519 signature of message."""
    return base64.b64encode(key.sign(message)).decode()


def signature_valid(public: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    """True when signature (base64) is public's signature of message."""
    from cryptography.exceptions import InvalidSignature

    try:
        public.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
