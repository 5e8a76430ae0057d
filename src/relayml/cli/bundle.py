"""``relay models build``: write a self-contained, servable bundle of a model version.

Call :func:`register` with the ``relay models`` Typer group to add the command to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relayml.cli._common import ProjectOption, console, open_cli_backend, project_or_default

__all__ = ["build", "register"]


def build(
    ref: Annotated[
        str,
        typer.Argument(
            help="Model version: name/version (churn/3), name@environment (churn@production) "
            "or a name alone for its latest version."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Directory to write the bundle into (new or empty).",
            file_okay=False,
            show_default=False,
        ),
    ],
    project: ProjectOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier bundle in --out.")
    ] = False,
) -> None:
    """Write a bundle (model files, manifest, requirements, wheel, Dockerfile) to serve REF.

    Serve it with `python -m relayml.serve.bundle DIR` (the model server of `relay serve`, on
    this one version; --log-dir DIR keeps a prediction log), or `docker build DIR`.
    """
    from relayml.models.bundle import build_bundle, image_tag

    name = project_or_default(project)
    with open_cli_backend() as backend:
        folder = build_bundle(backend, name, ref, out, force=force)
    import json

    manifest = json.loads((folder / "relay-bundle.json").read_text())
    out_console = console()
    out_console.print(f"Built the bundle of {manifest['ref']} ({manifest['flavor']}) in {folder}")
    for note in manifest.get("notes", []):
        out_console.print(f"Note: {note}")
    out_console.print(f"Serve it:  python -m relayml.serve.bundle {folder}")
    tag = image_tag(manifest["model"], manifest["version"])
    out_console.print(f"Or build an image:  docker build -t {tag} {folder}")


def register(app: typer.Typer) -> None:
    """Add the `build` command to a Typer group (the `relay models` group)."""
    app.command("build")(build)
