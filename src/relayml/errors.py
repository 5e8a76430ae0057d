"""The one exception tree of relayml.

    RelayError                  base of every error relayml raises on purpose
    ├── NotFound                something looked up does not exist          (HTTP 404)
    ├── InvalidInput            the caller's input is wrong; says how to fix (HTTP 422)
    ├── Conflict                the input clashes with what is stored        (HTTP 409)
    ├── PermissionDenied        the actor may not do this                    (HTTP 403)
    ├── GateFailed              a quality gate refused a change              (HTTP 409)
    ├── PipelineFailed          a step of a pipeline run failed; has the run (HTTP 500)
    ├── CorruptArtifact         stored bytes no longer match their hash      (HTTP 500)
    ├── StoreNotReady           the database needs `relay db upgrade`        (HTTP 503)
    ├── StorageUnavailable      the artifact store refused or could not be reached (HTTP 503)
    ├── ServerUnavailable       the relay server could not be reached        (client side)
    └── MissingDependency       an optional package is not installed

Every message says what was wrong and what to do about it. Interfaces (CLI, API) print or
return the message as it is; they never show a traceback for these.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Conflict",
    "CorruptArtifact",
    "GateFailed",
    "InvalidInput",
    "MissingDependency",
    "NotFound",
    "PermissionDenied",
    "PipelineFailed",
    "RelayError",
    "ServerUnavailable",
    "StorageUnavailable",
    "StoreNotReady",
]


class RelayError(Exception):
    """Base class of every error relayml raises on purpose."""

    code = "RELAY_ERROR"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RelayError):
    """Something that was looked up does not exist."""

    code = "NOT_FOUND"
    http_status = 404


class InvalidInput(RelayError):
    """The caller's input is wrong; the message says how to fix it."""

    code = "INVALID_INPUT"
    http_status = 422


class Conflict(RelayError):
    """The input clashes with what is already stored."""

    code = "CONFLICT"
    http_status = 409


class PermissionDenied(RelayError):
    """The actor is not allowed to do this."""

    code = "PERMISSION_DENIED"
    http_status = 403


class GateFailed(RelayError):
    """A quality gate refused a change."""

    code = "GATE_FAILED"
    http_status = 409


class PipelineFailed(RelayError):
    """A step of a pipeline run failed; ``run`` is the recorded (FAILED) pipeline run.

    ``run`` is a :class:`relayml.domain.pipelines.PipelineRun` (None when the error came back
    over HTTP without it); see ``relay pipelines show <run id>`` for the steps.
    """

    code = "PIPELINE_FAILED"
    http_status = 500

    def __init__(self, message: str, run: Any = None) -> None:
        super().__init__(message)
        self.run = run


class CorruptArtifact(RelayError):
    """Stored bytes no longer match the hash they were stored under."""

    code = "CORRUPT_ARTIFACT"
    http_status = 500


class StoreNotReady(RelayError):
    """The metadata database is missing tables or is at an older schema revision."""

    code = "STORE_NOT_READY"
    http_status = 503


class StorageUnavailable(RelayError):
    """The artifact store (RELAY_ARTIFACTS_URL) refused a request or could not be reached."""

    code = "STORAGE_UNAVAILABLE"
    http_status = 503


class ServerUnavailable(RelayError):
    """The relay server at RELAY_SERVER_URL could not be reached."""

    code = "SERVER_UNAVAILABLE"
    http_status = 503


class MissingDependency(RelayError):
    """An optional package is needed; the message gives the pip command."""

    code = "MISSING_DEPENDENCY"
    http_status = 500

    @classmethod
    def for_extra(cls, package: str, extra: str, purpose: str) -> MissingDependency:
        """Build the error for a package that ships in one of relayml's extras."""
        return cls(
            f"{purpose} needs the '{package}' package, which is not installed. "
            f"Install it with: pip install 'relayml[{extra}]'"
        )


BY_CODE: dict[str, type[RelayError]] = {
    cls.code: cls
    for cls in (
        RelayError,
        NotFound,
        InvalidInput,
        Conflict,
        PermissionDenied,
        GateFailed,
        PipelineFailed,
        CorruptArtifact,
        StoreNotReady,
        StorageUnavailable,
        ServerUnavailable,
        MissingDependency,
    )
}
