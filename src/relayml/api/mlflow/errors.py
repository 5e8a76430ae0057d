"""MLflow's error shape: ``{"error_code": ..., "message": ...}`` with MLflow's HTTP statuses.

relayml's errors are translated at this boundary; a path under the MLflow prefixes that no
route serves answers 404 ENDPOINT_NOT_FOUND, so newer clients degrade as against older servers.
"""

from __future__ import annotations

import json

from fastapi import Response

from relayml.errors import (
    Conflict,
    GateFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RelayError,
    Unauthenticated,
)

__all__ = [
    "PREFIXES",
    "MlflowError",
    "from_relay_error",
    "is_mlflow_path",
    "mlflow_error_response",
]

PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/api/2.0/mlflow-artifacts")

_STATUS = {
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "INVALID_STATE": 400,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_CONFLICT": 409,
    "REQUEST_LIMIT_EXCEEDED": 400,
    "INTERNAL_ERROR": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
}


class MlflowError(Exception):
    """An error the MLflow API answers with one of MLflow's error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = _STATUS.get(code, 400)


def is_mlflow_path(path: str) -> bool:
    """True for a path under one of the MLflow prefixes."""
    return any(path == p or path.startswith(p + "/") for p in PREFIXES)


def from_relay_error(exc: RelayError) -> MlflowError:
    """The MLflow error a relayml error becomes."""
    if isinstance(exc, NotFound):
        return MlflowError("RESOURCE_DOES_NOT_EXIST", exc.message)
    if isinstance(exc, InvalidInput):
        return MlflowError("INVALID_PARAMETER_VALUE", exc.message)
    if isinstance(exc, GateFailed):
        return MlflowError("INVALID_STATE", exc.message)
    if isinstance(exc, Conflict):
        return MlflowError("INVALID_PARAMETER_VALUE", exc.message)
    if isinstance(exc, Unauthenticated):
        return MlflowError("UNAUTHENTICATED", exc.message)
    if isinstance(exc, PermissionDenied):
        return MlflowError("PERMISSION_DENIED", exc.message)
    if exc.http_status == 503:
        return MlflowError("TEMPORARILY_UNAVAILABLE", exc.message)
    return MlflowError("INTERNAL_ERROR", exc.message)


def mlflow_error_response(error: MlflowError | RelayError) -> Response:
    """An error as MLflow's JSON body and status."""
    if isinstance(error, RelayError):
        error = from_relay_error(error)
    body = json.dumps({"error_code": error.code, "message": error.message})
    headers = {"WWW-Authenticate": 'Basic realm="relayml"'} if error.status == 401 else None
    return Response(body, status_code=error.status, media_type="application/json", headers=headers)
