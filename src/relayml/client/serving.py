"""The deployment operations of HttpBackend: the same calls as LocalServingOps, over HTTP."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from relayml.domain.serving import Deployment, DeploymentRevision, Strategy, Variant

__all__ = ["HttpServingOps"]


def _path(project: str, model: str, environment: str) -> str:
    parts = (quote(p, safe="") for p in (project, model, environment))
    return "/projects/{}/models/{}/deployments/{}".format(*parts)


def _json_value(value: Any) -> Any:
    """What json.dumps cannot write itself: numpy arrays and scalars, pandas Series, ranges."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Sequence):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot be sent as JSON; send plain values.")


class HttpServingOps:
    """Deployments and their history, on a relay server."""

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # provided by HttpBackend

    def _json(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # provided by HttpBackend

    def deploy(
        self,
        project: str,
        model: str,
        environment: str,
        strategy: Strategy,
        variants: Sequence[Variant],
        *,
        sticky_key: str | None = None,
        reason: str = "",
    ) -> Deployment:
        """Store a new revision of a deployment; a running server picks it up."""
        body = {
            "strategy": strategy,
            "variants": [v.model_dump() for v in variants],
            "sticky_key": sticky_key,
            "reason": reason,
        }
        path = _path(project, model, environment)
        result: Deployment = self._json("PUT", path, Deployment, json=body)
        return result

    def get_deployment(self, project: str, model: str, environment: str) -> Deployment:
        """The current revision of a deployment."""
        result: Deployment = self._json("GET", _path(project, model, environment), Deployment)
        return result

    def list_deployments(self, project: str) -> list[Deployment]:
        """Every deployment of a project."""
        path = f"/projects/{quote(project, safe='')}/deployments"
        result: list[Deployment] = self._json("GET", path, list[Deployment])
        return result

    def deployment_history(
        self, project: str, model: str, environment: str
    ) -> list[DeploymentRevision]:
        """Every revision of a deployment, oldest first."""
        path = _path(project, model, environment) + "/history"
        result: list[DeploymentRevision] = self._json("GET", path, list[DeploymentRevision])
        return result

    def deployment_state(
        self, project: str, model: str, environment: str
    ) -> tuple[int | None, int | None]:
        """(revision or None, the environment alias's version or None)."""
        path = _path(project, model, environment) + "/state"
        state = self._send("GET", path).json()
        return state["revision"], state["alias_version"]

    def log_outcomes(
        self,
        project: str,
        prediction_ids: Sequence[str],
        values: Sequence[Any],
        *,
        model: str | None = None,
    ) -> int:
        """Store true values of earlier predictions (durable on return); joined later by id."""
        body = {"prediction_ids": prediction_ids, "values": values, "model": model}
        path = f"/projects/{quote(project, safe='')}/outcomes"
        content = json.dumps(body, default=_json_value)
        headers = {"Content-Type": "application/json"}
        accepted: int = self._send("POST", path, content=content, headers=headers).json()[
            "accepted"
        ]
        return accepted
