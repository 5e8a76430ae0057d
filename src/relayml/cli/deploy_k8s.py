"""`relay deploy MODEL --env ENV --emit k8s`: Kubernetes manifests that run its model server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from relayml.cli._common import console, open_cli_backend, project_or_default, settings

__all__ = ["EmitOption", "K8sFlags", "emit_k8s"]

EmitOption = Annotated[
    str | None,
    typer.Option(
        "--emit",
        help="Write manifests instead of changing the deployment: k8s (a Deployment running "
        "`relay serve MODEL@ENV`, a Service, a ServiceMonitor). See docs/operations.md.",
        show_default=False,
    ),
]
_K8S = "Kubernetes (--emit k8s)"


def _opt(*names: str, help: str, **kwargs: Any) -> Any:
    return typer.Option(*names, help=help, rich_help_panel=_K8S, **kwargs)


class K8sFlags:
    """The --emit k8s flags of `relay deploy`, gathered for emit_k8s."""

    OutOption = Annotated[
        Path | None,
        _opt(
            "--out", help="Folder for the manifest files (default: print YAML).", show_default=False
        ),
    ]
    ImageOption = Annotated[
        str | None,
        _opt("--image", help="Container image with relayml installed (default relayml:VERSION).",
             show_default=False),
    ]  # fmt: skip
    ServerUrlOption = Annotated[
        str | None,
        _opt("--server-url", help="The `relay server` the pods reach (default RELAY_SERVER_URL).",
             show_default=False),
    ]  # fmt: skip
    SecretOption = Annotated[
        str, _opt("--token-secret", help="Secret holding the pods' API token (key: token).")
    ]
    ReplicasOption = Annotated[int, _opt("--replicas", min=1, help="Model server pods.")]
    NamespaceOption = Annotated[
        str | None, _opt("--namespace", help="Namespace of the objects.", show_default=False)
    ]
    ArtifactsOption = Annotated[
        str | None,
        _opt("--artifacts-url", help="Shared artifact store for the prediction log, e.g. "
             "s3://bucket/relay (default RELAY_ARTIFACTS_URL if it is a URL).", show_default=False),
    ]  # fmt: skip
    CpuRequest = Annotated[str, _opt("--cpu-request", help="CPU request per pod.")]
    MemoryRequest = Annotated[str, _opt("--memory-request", help="Memory request per pod.")]
    CpuLimit = Annotated[str, _opt("--cpu-limit", help="CPU limit per pod.")]
    MemoryLimit = Annotated[str, _opt("--memory-limit", help="Memory limit per pod.")]


def emit_k8s(
    emit: str,
    project: str | None,
    model: str,
    env: str,
    changes: dict[str, Any],
    out: Path | None,
    **flags: Any,
) -> None:
    """Check the model exists, render the manifests, print them or write them into out."""
    import yaml

    from relayml.deployments.k8s import K8sOptions, render_manifests
    from relayml.errors import InvalidInput

    if emit != "k8s":
        raise InvalidInput(f"--emit {emit!r} is not known; the one output is k8s.")
    given = [f"--{name.replace('_', '-')}" for name, value in changes.items() if value]
    if given:
        raise InvalidInput(
            f"--emit k8s writes manifests and changes no deployment; drop {', '.join(given)} "
            "(set the deployment first with `relay deploy MODEL --env ENV ...`)."
        )
    server_url = flags.pop("server_url") or settings().server_url
    if not server_url:
        raise InvalidInput(
            "the pods need the address of a `relay server`: pass --server-url "
            "http://relay.mlops.svc:8080 or set RELAY_SERVER_URL."
        )
    configured = settings().artifacts_url
    if flags.get("artifacts_url") is None and configured and "://" in configured:
        flags["artifacts_url"] = configured
    if flags.get("image") is None:
        flags.pop("image", None)
    name = project_or_default(project)
    with open_cli_backend() as backend:
        backend.get_model(name, model)  # NotFound names the model and what to do
    manifests = render_manifests(name, model, env, K8sOptions(server_url=server_url, **flags))
    if out is None:
        typer.echo(yaml.safe_dump_all(manifests.values(), sort_keys=False), nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    for stem, manifest in manifests.items():
        (out / f"{stem}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    console().print(
        f"Wrote {', '.join(f'{s}.yaml' for s in manifests)} to {out}; apply them with "
        f"`kubectl apply -f {out}` after creating the Secret {flags['token_secret']}."
    )
