"""Third-party storage errors (botocore, aiohttp, fsspec, the OS) as one sentence for users.

The artifact store is the boundary: whatever s3fs, gcsfs or the local filesystem raise while a
blob is read or written leaves it as a :class:`relayml.errors.StorageUnavailable` (raised
``from`` the original, which stays in ``__cause__``) saying which URL, what failed and which
settings to check. No third-party module is imported here: errors are recognised by their
class names and the S3 error codes they carry.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from relayml.errors import RelayError, StorageUnavailable

__all__ = ["from_storage_library", "storage_boundary", "storage_error"]

_MISSING_CREDENTIALS = {
    "NoCredentialsError",
    "PartialCredentialsError",
    "CredentialRetrievalError",
    "NoAuthTokenError",
    "DefaultCredentialsError",  # google-auth
    "ProfileNotFound",
}
_REFUSED_CODES = {
    "403",
    "Forbidden",
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AuthorizationHeaderMalformed",
}
_UNREACHABLE = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ClientConnectorError",
    "ClientConnectorDNSError",
    "ServerDisconnectedError",
    "ServerTimeoutError",
    "InvalidEndpointError",
    "InvalidURL",
}
_STORAGE_LIBRARIES = {"botocore", "aiobotocore", "boto3", "s3fs", "aiohttp", "gcsfs", "adlfs"}
_S3_KEYS = (
    'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or "key" and "secret" in '
    "RELAY_ARTIFACTS_OPTIONS"
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes and contexts, outermost first, each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _code(exc: BaseException) -> str | None:
    """The S3 error code a botocore ClientError carries (``NoSuchBucket``, ``403``...)."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping) and error.get("Code"):
            return str(error["Code"])
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text and text[0] else type(exc).__name__


def _endpoint(url: str, options: Mapping[str, Any]) -> str:
    """The endpoint the store's client talks to, as the settings give it."""
    client_kwargs = options.get("client_kwargs")
    endpoint = options.get("endpoint_url") or (
        client_kwargs.get("endpoint_url") if isinstance(client_kwargs, Mapping) else None
    )
    if endpoint:
        return str(endpoint)
    if url.startswith(("s3://", "s3a://")):
        return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get(
            "AWS_ENDPOINT_URL", "AWS's default S3 endpoint"
        )
    return url.split("://", 1)[0] + "'s default endpoint"


def _bucket(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _from_library(exc: BaseException) -> bool:
    return any(type(e).__module__.split(".")[0] in _STORAGE_LIBRARIES for e in _chain(exc))


def from_storage_library(
    exc: BaseException, url: str, options: Mapping[str, Any] | None, doing: str
) -> StorageUnavailable | None:
    """Like storage_error, but only for errors a storage client library (botocore...) raised.

    For boundaries that wrap more than storage calls (a whole CLI command), where an OSError of
    the user's own files must not be blamed on the artifact store.
    """
    return storage_error(exc, url, options, doing) if _from_library(exc) else None


def storage_error(
    exc: BaseException, url: str, options: Mapping[str, Any] | None, doing: str
) -> StorageUnavailable | None:
    """The one-sentence error for a third-party storage failure, or None when it is not one.

    ``doing`` says what the store was asked, e.g. "writing blob 3f2a…" (it ends the sentence's
    first part: "... failed while writing blob 3f2a…").
    """
    if isinstance(exc, RelayError):
        return None
    options = options or {}
    remote = "://" in url and not url.startswith("file://")
    s3 = url.startswith(("s3://", "s3a://"))
    names = [(type(e).__name__, _code(e), e) for e in _chain(exc)]
    keys = _S3_KEYS if s3 else "the storage credentials in RELAY_ARTIFACTS_OPTIONS"
    where = f"the artifact store at {url} (RELAY_ARTIFACTS_URL)"
    for name, _, cause in names:
        if name in _MISSING_CREDENTIALS:
            return StorageUnavailable(
                f"{where} needs credentials and none were found while {doing} "
                f"({_first_line(cause)}): set {keys}."
            )
    for _, code, cause in names:
        if code == "NoSuchBucket" or "specified bucket does not exist" in str(cause):
            return StorageUnavailable(
                f"the bucket {_bucket(url)!r} of {where} does not exist at "
                f"{_endpoint(url, options)} ({doing}): create it, or correct the bucket in "
                "RELAY_ARTIFACTS_URL (and the endpoint_url in RELAY_ARTIFACTS_OPTIONS)."
            )
    for _, code, cause in names:
        if code in _REFUSED_CODES or (remote and isinstance(cause, PermissionError)):
            return StorageUnavailable(
                f"{where} refused the credentials while {doing} ({code or _first_line(cause)} "
                f"from {_endpoint(url, options)}): check {keys}, and that they may read and "
                f"write bucket {_bucket(url)!r}."
            )
    for name, _, cause in names:
        if name in _UNREACHABLE or (
            remote and isinstance(cause, ConnectionError | TimeoutError | socket.gaierror)
        ):
            deepest = list(_chain(cause))[-1]  # "Connect call failed", "Name or service not known"
            return StorageUnavailable(
                f"cannot reach {where} at endpoint {_endpoint(url, options)} while {doing} "
                f"({_first_line(deepest)}): check endpoint_url in RELAY_ARTIFACTS_OPTIONS "
                "(or AWS_ENDPOINT_URL), the network, and that the store is running."
            )
    if not remote and isinstance(exc, PermissionError):
        return StorageUnavailable(
            f"{where} is not writable or readable while {doing} ({_first_line(exc)}): check "
            "RELAY_ARTIFACTS_URL (or RELAY_HOME) and the folder's permissions."
        )
    if isinstance(exc, OSError) or _from_library(exc):
        if isinstance(exc, FileNotFoundError):
            return None  # a missing blob: the caller says which
        return StorageUnavailable(
            f"{where} failed while {doing} ({_first_line(exc)}): check RELAY_ARTIFACTS_URL "
            "and RELAY_ARTIFACTS_OPTIONS."
        )
    return None


@contextmanager
def storage_boundary(url: str, options: Mapping[str, Any] | None, doing: str) -> Iterator[None]:
    """Run a storage call; a third-party storage failure leaves as StorageUnavailable."""
    try:
        yield
    except Exception as exc:
        translated = storage_error(exc, url, options, doing)
        if translated is None:
            raise
        raise translated from exc
