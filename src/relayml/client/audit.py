"""The audit chain's operations of HttpBackend: verify, checkpoints and export, over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from relayml.domain.audit_chain import AuditCheckpoint, AuditVerification
from relayml.errors import RelayError, ServerUnavailable

__all__ = ["HttpAuditOps"]


class HttpAuditOps:
    """The audit chain on a relay server (which holds the signing key)."""

    url: str
    _http: httpx.Client

    def _json(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # provided by HttpBackend

    def _error(self, response: httpx.Response) -> RelayError:
        raise NotImplementedError  # provided by HttpBackend

    def verify_audit(
        self, checkpoint: AuditCheckpoint | None = None, *, public_key: str | None = None
    ) -> AuditVerification:
        """Walk the audit chain on the server; with a checkpoint, check its signature and place."""
        params: dict[str, Any] = {}
        if checkpoint is not None:
            params.update(
                checkpoint.model_dump(
                    include={"entry_id", "hash", "at", "key_id", "signature", "public_key"}
                )
            )
        if public_key is not None:
            params["trusted_key"] = public_key
        result: AuditVerification = self._json(
            "GET", "/audit/verify", AuditVerification, params=params
        )
        return result

    def create_audit_checkpoint(self) -> AuditCheckpoint:
        """Sign the chain's head with the server key and store the checkpoint."""
        result: AuditCheckpoint = self._json("POST", "/audit/checkpoints", AuditCheckpoint)
        return result

    def list_audit_checkpoints(self, limit: int = 20) -> list[AuditCheckpoint]:
        """The newest stored checkpoints first."""
        result: list[AuditCheckpoint] = self._json(
            "GET", "/audit/checkpoints", list[AuditCheckpoint], params={"limit": limit}
        )
        return result

    def export_audit(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every matching audit entry, oldest first, with its hash, streamed from the server."""
        params = {k: v for k, v in filters.items() if v is not None}
        try:
            with self._http.stream("GET", "/audit/export", params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._error(response)
                for line in response.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.TransportError as exc:
            raise ServerUnavailable(
                f"the relay server at {self.url} broke off the audit export "
                f"({exc.__class__.__name__}: {exc}); run the export again."
            ) from exc
