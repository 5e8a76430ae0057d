"""Kubernetes manifests that run `relay serve MODEL@ENV` for a deployment.

A Deployment (the model server, configured to talk to a `relay server`, its token from a Secret
the operator creates), a Service in front of it and a Prometheus Operator ServiceMonitor for
``/metrics``. Probes use the model server's health routes: ``/v2/health/live`` (the process
answers) and ``/v2/health/ready`` (its models are loaded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import relayml
from relayml.errors import InvalidInput

__all__ = ["K8sOptions", "manifest_name", "render_manifests"]

PORT = 8000
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


@dataclass(frozen=True)
class K8sOptions:
    """What the manifests need beyond the deployment itself."""

    server_url: str
    image: str = f"relayml:{relayml.__version__}"
    token_secret: str = "relay-token"
    token_key: str = "token"
    replicas: int = 1
    namespace: str | None = None
    artifacts_url: str | None = None
    cpu_request: str = "250m"
    memory_request: str = "512Mi"
    cpu_limit: str = "1"
    memory_limit: str = "1Gi"


def manifest_name(model: str, environment: str) -> str:
    """A DNS-1123 name for the objects: relay-<model>-<environment>, at most 63 characters."""
    raw = f"relay-{model}-{environment}".lower()
    name = re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")
    return name[:63].rstrip("-")


def _label(value: str) -> str:
    """A valid label value: letters, digits, '-', '_', '.', at most 63, alphanumeric ends."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", value)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned) or "unnamed"


def _check(options: K8sOptions) -> None:
    for flag, value in (
        ("--cpu-request", options.cpu_request),
        ("--memory-request", options.memory_request),
        ("--cpu-limit", options.cpu_limit),
        ("--memory-limit", options.memory_limit),
    ):
        if not _QUANTITY.match(value):
            raise InvalidInput(
                f"{flag} {value!r} is not a Kubernetes quantity; use e.g. 500m or 2 for CPU, "
                "512Mi or 2Gi for memory."
            )
    if not options.server_url.startswith(("http://", "https://")):
        raise InvalidInput(
            f"--server-url {options.server_url!r} is not an http(s) URL; give the address of "
            "the `relay server` the pods reach, e.g. http://relay.mlops.svc:8080."
        )
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", options.token_secret):
        raise InvalidInput(
            f"--token-secret {options.token_secret!r} is not a Secret name; use lowercase "
            "letters, digits, '-' and '.'."
        )
    if options.artifacts_url is not None and "://" not in options.artifacts_url:
        raise InvalidInput(
            f"--artifacts-url {options.artifacts_url!r} is a local path, which each pod would "
            "keep to itself; give the shared store of `relay server`, e.g. s3://bucket/relay."
        )
    if options.replicas < 1:
        raise InvalidInput("--replicas must be at least 1.")


def render_manifests(
    project: str, model: str, environment: str, options: K8sOptions
) -> dict[str, dict[str, Any]]:
    """The Deployment, Service and ServiceMonitor, by file stem, as plain dicts."""
    _check(options)
    name = manifest_name(model, environment)
    labels = {
        "app.kubernetes.io/name": "relay-serve",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/part-of": "relayml",
        "relayml.dev/model": _label(model),
        "relayml.dev/environment": _label(environment),
    }
    selector = {"app.kubernetes.io/instance": name}
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if options.namespace:
        metadata["namespace"] = options.namespace

    def probe(path: str, period: int, failures: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": "http"},
            "periodSeconds": period,
            "timeoutSeconds": 3,
            "failureThreshold": failures,
        }

    container = {
        "name": "relay-serve",
        "image": options.image,
        "args": [
            "relay",
            "serve",
            f"{model}@{environment}",
            "--project",
            project,
            "--host",
            "0.0.0.0",
            "--port",
            str(PORT),
        ],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [
            {"name": "RELAY_SERVER_URL", "value": options.server_url},
            {"name": "RELAY_PROJECT", "value": project},
            # The prediction log goes beside the artifacts: shared, so monitoring sees it.
            *(
                [{"name": "RELAY_ARTIFACTS_URL", "value": options.artifacts_url}]
                if options.artifacts_url
                else []
            ),
            {
                "name": "RELAY_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {"name": options.token_secret, "key": options.token_key}
                },
            },
        ],
        "resources": {
            "requests": {"cpu": options.cpu_request, "memory": options.memory_request},
            "limits": {"cpu": options.cpu_limit, "memory": options.memory_limit},
        },
        # Loading a model can take a while: the start-up probe holds the others off for 5 min.
        "startupProbe": probe("/v2/health/live", 5, 60),
        "livenessProbe": probe("/v2/health/live", 10, 3),
        "readinessProbe": probe("/v2/health/ready", 5, 3),
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container]},
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": selector},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
        },
    }
    return {"deployment": deployment, "service": service, "servicemonitor": monitor}
