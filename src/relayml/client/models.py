"""The model operations of HttpBackend: the same calls as LocalModelOps, over HTTP."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx

from relayml.domain.models import (
    Evaluation,
    GateReport,
    ModelFile,
    ModelHistory,
    ModelVersion,
    PolicyInfo,
    Promotion,
    RegisteredModel,
    Signature,
)
from relayml.errors import CorruptArtifact, RelayError, ServerUnavailable

__all__ = ["HttpModelOps"]


def _q(part: str) -> str:
    return quote(part, safe="")


def _chunks(fh: IO[bytes], size: int = 1024 * 1024) -> Iterator[bytes]:
    while chunk := fh.read(size):
        yield chunk


class HttpModelOps:
    """Registry, evaluations, policies, promotions and members, sent to a relay server."""

    url: str
    _http: httpx.Client

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # provided by HttpBackend

    def _json(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # provided by HttpBackend

    def _error(self, response: httpx.Response) -> RelayError:
        raise NotImplementedError  # provided by HttpBackend

    # blobs
    def upload_blob(self, source: str | Path | IO[bytes]) -> tuple[str, int]:
        """Upload bytes; returns (sha256, size) as the server stored them."""
        if isinstance(source, str | Path):
            with open(source, "rb") as fh:
                body = self._json("PUT", "/blobs", dict[str, Any], content=_chunks(fh))
        else:
            body = self._json("PUT", "/blobs", dict[str, Any], content=_chunks(source))
        return str(body["sha256"]), int(body["size"])

    def fetch_blob(self, sha256: str, dest: str | Path) -> Path:
        """Download a blob to dest, verifying its hash before it appears there."""
        target = Path(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.sha256()
        try:
            try:
                with self._http.stream("GET", f"/blobs/{_q(sha256)}") as response:
                    if response.status_code >= 400:
                        response.read()
                        raise self._error(response)
                    with open(tmp, "wb") as out:
                        for chunk in response.iter_bytes():
                            digest.update(chunk)
                            out.write(chunk)
            except httpx.TransportError as exc:
                raise ServerUnavailable(f"download of blob {sha256} broke off: {exc}") from exc
            if digest.hexdigest() != sha256:
                raise CorruptArtifact(
                    f"blob arrived with sha256 {digest.hexdigest()}, not {sha256}; "
                    "nothing was written."
                )
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        return target

    # members
    def add_member(self, project: str, user: str, role: str) -> None:
        """Give a user a role in a project."""
        self._send("POST", f"/projects/{_q(project)}/members", json={"user": user, "role": role})

    def list_members(self, project: str) -> dict[str, list[str]]:
        """Each member of a project with their roles."""
        result: dict[str, list[str]] = self._json(
            "GET", f"/projects/{_q(project)}/members", dict[str, list[str]]
        )
        return result

    # registry
    def create_model_version(
        self,
        project: str,
        name: str,
        *,
        flavor: str,
        files: Sequence[ModelFile],
        signature: Signature,
        requirements: Sequence[str],
        details: dict[str, Any] | None = None,
        run_id: str | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Register a version whose files are uploaded already."""
        body = {
            "flavor": flavor,
            "files": [f.model_dump() for f in files],
            "signature": signature.model_dump(mode="json"),
            "requirements": list(requirements),
            "details": details or {},
            "run_id": run_id,
            "description": description,
        }
        path = f"/projects/{_q(project)}/models/{_q(name)}/versions"
        result: ModelVersion = self._json("POST", path, ModelVersion, json=body)
        return result

    def get_model(self, project: str, name: str) -> RegisteredModel:
        """A registered model."""
        path = f"/projects/{_q(project)}/models/{_q(name)}"
        result: RegisteredModel = self._json("GET", path, RegisteredModel)
        return result

    def list_models(self, project: str) -> list[RegisteredModel]:
        """A project's registered models."""
        path = f"/projects/{_q(project)}/models"
        result: list[RegisteredModel] = self._json("GET", path, list[RegisteredModel])
        return result

    def get_model_version(self, project: str, ref: str) -> ModelVersion:
        """The version a reference names."""
        path = f"/projects/{_q(project)}/model-version"
        result: ModelVersion = self._json("GET", path, ModelVersion, params={"ref": ref})
        return result

    def list_model_versions(self, project: str, name: str) -> list[ModelVersion]:
        """A model's versions, newest first."""
        path = f"/projects/{_q(project)}/models/{_q(name)}/versions"
        result: list[ModelVersion] = self._json("GET", path, list[ModelVersion])
        return result

    def model_history(self, project: str, name: str) -> ModelHistory:
        """Which version held which environment, and every promotion request."""
        path = f"/projects/{_q(project)}/models/{_q(name)}/history"
        result: ModelHistory = self._json("GET", path, ModelHistory)
        return result

    # evaluations
    def create_evaluation(self, project: str, ref: str, result: dict[str, Any]) -> Evaluation:
        """Store an evaluation of a version."""
        path = f"/projects/{_q(project)}/evaluations"
        stored: Evaluation = self._json(
            "POST", path, Evaluation, json={"ref": ref, "result": result}
        )
        return stored

    def list_evaluations(self, project: str, ref: str) -> list[Evaluation]:
        """A version's evaluations, newest first."""
        path = f"/projects/{_q(project)}/evaluations"
        result: list[Evaluation] = self._json("GET", path, list[Evaluation], params={"ref": ref})
        return result

    # policy and promotions
    def set_policy(self, project: str, source: str) -> PolicyInfo:
        """Store a new revision of the project's policy (YAML text)."""
        path = f"/projects/{_q(project)}/policy"
        result: PolicyInfo = self._json("PUT", path, PolicyInfo, json={"source": source})
        return result

    def get_policy(self, project: str) -> PolicyInfo:
        """The project's current policy."""
        result: PolicyInfo = self._json("GET", f"/projects/{_q(project)}/policy", PolicyInfo)
        return result

    def promote(self, project: str, ref: str, environment: str, reason: str = "") -> Promotion:
        """Request a promotion."""
        body = {"ref": ref, "environment": environment, "reason": reason}
        path = f"/projects/{_q(project)}/promotions"
        result: Promotion = self._json("POST", path, Promotion, json=body)
        return result

    def decide_promotion(
        self, project: str, ref: str, environment: str, decision: str, comment: str = ""
    ) -> Promotion:
        """Approve or reject a promotion that waits for approval."""
        body = {"ref": ref, "environment": environment, "decision": decision, "comment": comment}
        path = f"/projects/{_q(project)}/promotions/decide"
        result: Promotion = self._json("POST", path, Promotion, json=body)
        return result

    def check_promotion(self, project: str, ref: str, environment: str) -> GateReport:
        """Run a promotion's gates without changing anything."""
        body = {"ref": ref, "environment": environment}
        path = f"/projects/{_q(project)}/promotions/check"
        result: GateReport = self._json("POST", path, GateReport, json=body)
        return result
