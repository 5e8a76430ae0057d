"""The one exception tree of relayml.

    RelayError                  base of every error relayml raises on purpose
    ├── NotFound                something looked up does not exist          (HTTP 404)
    ├── InvalidInput            the caller's input is wrong; says how to fix (HTTP 422)
    ├── Conflict                the input clashes with what is stored        (HTTP 409)
    ├── Unauthenticated         no valid token, session or sign-in was given  (HTTP 401)
    ├── PermissionDenied        the actor may not do this                    (HTTP 403)
    ├── GateFailed              a quality gate refused a change              (HTTP 409)
    ├── PipelineFailed          a step of a pipeline run failed; has the run (HTTP 500)
    ├── CorruptArtifact         stored bytes no longer match their hash      (HTTP 500)
    ├── StoreNotReady           the database needs `relay db upgrade`        (HTTP 503)
    ├── StorageUnavailable      the artifact store refused or could not be reached (HTTP 503)
    ├── ServerUnavailable       the relay server could not be reached        (client side)
    ├── SchedulerUnavailable    the Dask scheduler could not be reached      (HTTP 503)
    ├── SourceUnavailable       the store an import reads from failed        (client side)
    ├── MissingDependency       an optional package is not installed
    │   the model server's own (it answers V2's {"error": "…"} with these statuses)
    ├── ModelNotReady           the served models are still loading or failed   (HTTP 503)
    ├── ModelFailed             the model raised on input that passed checks    (HTTP 500)
    ├── BodyTooLarge            the request body is over the server's limit     (HTTP 413)
    └── NotJson                 the request body is not JSON                    (HTTP 400)

Every message says what was wrong and what to do about it. Interfaces (CLI, API) print or
return the message as it is; they never show a traceback for these.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BodyTooLarge",
    "Conflict",
    "CorruptArtifact",
    "GateFailed",
    "InvalidInput",
    "MissingDependency",
    "ModelFailed",
    "ModelNotReady",
    "NotFound",
    "NotJson",
    "PermissionDenied",
    "PipelineFailed",
    "RelayError",
    "SchedulerUnavailable",
    "ServerUnavailable",
    "SourceUnavailable",
    "StorageUnavailable",
    "StoreNotReady",
    "Unauthenticated",
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


class Unauthenticated(RelayError):
    """No valid token, session or sign-in came with the request."""

    code = "UNAUTHENTICATED"
    http_status = 401


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


class SchedulerUnavailable(RelayError):
    """The Dask scheduler an executor names (dask://host:port) could not be reached."""

    code = "SCHEDULER_UNAVAILABLE"
    http_status = 503


class SourceUnavailable(RelayError):
    """The store an import reads from (an MLflow tracking URI or folder) failed midway."""

    code = "SOURCE_UNAVAILABLE"
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


class ModelNotReady(RelayError):
    """The model server's models are still loading (or the last attempt failed)."""

    code = "MODEL_NOT_READY"
    http_status = 503

    @classmethod
    def loading(cls, error: str | None) -> ModelNotReady:
        """The error while loading, saying why the last attempt failed if it did."""
        return cls(
            "the models are not loaded yet"
            + (f": the last attempt failed with {error}" if error else "; try again shortly.")
        )


class ModelFailed(RelayError):
    """The model raised on input that passed validation."""

    code = "MODEL_FAILED"
    http_status = 500


class BodyTooLarge(RelayError):
    """The request body is over the server's limit."""

    code = "BODY_TOO_LARGE"
    http_status = 413


class NotJson(RelayError):
    """The request body is not JSON."""

    code = "NOT_JSON"
    http_status = 400


BY_CODE: dict[str, type[RelayError]] = {
    cls.code: cls
    for cls in (
        RelayError,
        NotFound,
        InvalidInput,
        Conflict,
        Unauthenticated,
        PermissionDenied,
        GateFailed,
        PipelineFailed,
        CorruptArtifact,
        StoreNotReady,
        StorageUnavailable,
        ServerUnavailable,
        MissingDependency,
        ModelNotReady,
        ModelFailed,
        BodyTooLarge,
        NotJson,
    )
}
