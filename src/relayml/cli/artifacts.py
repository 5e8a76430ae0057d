"""Commands for the files stored with runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relayml.cli._common import (
    JsonOption,
    console,
    format_bytes,
    format_time,
    open_cli_backend,
    print_json,
    resolve_run_id,
    table,
)

__all__ = ["artifacts_app"]

artifacts_app = typer.Typer(
    help="Artifacts: the files stored with a run (verified by sha256).", no_args_is_help=True
)

RunIdArgument = Annotated[
    str, typer.Argument(help="Run id (or a unique prefix of at least 6 characters).")
]


@artifacts_app.command("list")
def artifacts_list(
    run_id: RunIdArgument,
    prefix: Annotated[
        str, typer.Argument(help="Only this file or the files under this folder.")
    ] = "",
    json_output: JsonOption = False,
) -> None:
    """List the artifacts of a run, optionally under a folder.

    Example: relay artifacts list 3f2a9c0d1e4b model
    """
    with open_cli_backend() as backend:
        full_id = resolve_run_id(backend, run_id)
        artifacts = backend.list_artifacts(full_id, prefix)
    if json_output:
        print_json(artifacts)
        return
    console().print(
        table(
            ["path", "size", "sha256", "stored"],
            (
                [a.path, format_bytes(a.size), a.sha256[:12], format_time(a.created_at)]
                for a in artifacts
            ),
            title=f"Artifacts of run {full_id}",
        )
    )
    if not artifacts:
        where = f" under {prefix!r}" if prefix else ""
        console().print(f"Run {full_id} has no artifacts{where}.")


@artifacts_app.command("download")
def artifacts_download(
    run_id: RunIdArgument,
    path: Annotated[str, typer.Argument(help="Artifact path, or a folder of artifacts.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Folder to write into (created if missing).", file_okay=False
        ),
    ] = Path("."),
) -> None:
    """Download one artifact, or a whole folder of them, verifying each file's sha256.

    A file lands as OUT/<its name>; a folder as OUT/<folder name>/...

    Example: relay artifacts download 3f2a9c0d1e4b model --out ./downloads
    """
    from relayml.domain.validation import check_artifact_path
    from relayml.sdk import download_artifact

    clean = check_artifact_path(path)
    with open_cli_backend() as backend:
        full_id = resolve_run_id(backend, run_id)
        found = backend.list_artifacts(full_id, clean)
        is_file = any(a.path == clean for a in found)
        out.mkdir(parents=True, exist_ok=True)
        dest = out if is_file or not found else out / clean.rsplit("/", 1)[-1]
        written = download_artifact(full_id, clean, dest, backend=backend)
    files = [a for a in found if a.path == clean] if is_file else found
    noun = "file" if len(files) == 1 else "files"
    size = format_bytes(sum(a.size for a in files))
    console().print(f"Downloaded {len(files)} {noun} ({size}) to {written}")
