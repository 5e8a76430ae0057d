"""`relay report`: a version's model risk report and the inventory, generated from the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relayml.cli._common import ProjectOption, console, open_cli_backend, project_or_default

__all__ = ["report_app"]

report_app = typer.Typer(
    no_args_is_help=True,
    help="Reports generated from the store, never written by hand: a model risk report (SR 11-7, "
    "EU AI Act Annex IV) of one version, and the model inventory.\n\n"
    "Examples:\n\n"
    "relay report model churn --out churn.html\n\n"
    "relay report model churn --version 2 --format md --out churn-2.md\n\n"
    "relay report model churn --format pdf --out churn.pdf\n\n"
    "relay report inventory --out inventory.html",
)

OutOption = Annotated[Path, typer.Option("--out", "-o", help="The file to write.")]
FormatOption = Annotated[
    str,
    typer.Option("--format", "-f", help="html, md or pdf (pdf: pip install 'relayml[pdf]')."),
]


def _check_out(path: Path) -> None:
    """Refuse an --out that cannot be written before anything is built."""
    from relayml.errors import InvalidInput

    if path.is_dir():
        raise InvalidInput(f"{path} is a folder; give a file name, e.g. {path / 'report.html'}.")
    if not path.parent.is_dir():
        raise InvalidInput(
            f"the folder {path.parent} does not exist; create it or choose another --out."
        )


def _write(path: Path, content: bytes) -> None:
    from relayml.errors import InvalidInput

    try:
        path.write_bytes(content)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}; choose another --out.") from exc


@report_app.command("model")
def model_report(
    model: Annotated[str, typer.Argument(help="The registered model, e.g. churn.")],
    out: OutOption,
    version: Annotated[
        int | None,
        typer.Option(
            "--version", "-v", help="The version (default: production's, else the newest)."
        ),
    ] = None,
    fmt: FormatOption = "html",
    project: ProjectOption = None,
) -> None:
    """Build a version's model risk report; it is also stored with the hash of its inputs."""
    from relayml.domain.reports import check_format

    check_format(fmt)
    _check_out(out)
    with open_cli_backend() as backend:
        report = backend.build_model_report(
            project_or_default(project), model, version=version, fmt=fmt
        )
    _write(out, report.data())
    console().print(
        f"{out}: model risk report of {report.model}/{report.version} ({report.size:,} bytes), "
        f"stored as sha256 {report.sha256}; inputs fingerprint {report.fingerprint}."
    )


@report_app.command("inventory")
def inventory_report(
    out: OutOption,
    fmt: FormatOption = "html",
    project: Annotated[
        list[str] | None,
        typer.Option("--project", "-p", help="Only this project (repeat for more). Default: all."),
    ] = None,
) -> None:
    """Write the model inventory of every project you may read as a document."""
    from relayml.domain.reports import check_format
    from relayml.reports.builder import inventory_file

    check_format(fmt)
    _check_out(out)
    with open_cli_backend() as backend:
        entries = backend.inventory(project or None)
        actor = backend.actor
    _write(out, inventory_file(entries, fmt, actor))
    console().print(f"{out}: inventory of {len(entries)} model(s).")
