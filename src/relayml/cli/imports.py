"""`relay import mlflow`: bring an MLflow store's runs and models into a relayml project."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from relayml.cli._common import JsonOption, console, key_value_table, open_cli_backend, print_json

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["import_app"]

import_app = typer.Typer(
    help="Import from other platforms: MLflow tracking stores and model registries.",
    no_args_is_help=True,
)


class _Bar:
    """A Rich progress bar on standard error over the runs and model versions."""

    def __init__(self, enabled: bool) -> None:
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.progress = Progress(
                TextColumn("{task.description:<32.32}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(stderr=True),
            )

    def begin(self, total: int) -> None:
        """Show the bar, now that the total is known."""
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task("importing", total=total)

    def advance(self, label: str) -> None:
        """One more run or model version is done."""
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1, description=label)

    def stop(self) -> None:
        """Leave the bar as it ended."""
        if self.progress is not None and self.task is not None:
            self.progress.stop()


@import_app.command("mlflow")
def import_mlflow_command(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="The MLflow store: a tracking server URL (http://host:5000), a SQLite file "
            "(sqlite:///mlflow.db) or an mlruns folder (./mlruns).",
            show_default=False,
        ),
    ],
    project: Annotated[
        str,
        typer.Option(
            "--project", "-p", help="The relayml project to import into (created if new)."
        ),
    ] = "mlflow",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be imported; store nothing.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Import experiments, runs (full metric history), artifacts, registered models, versions
    and aliases from MLflow. Running it again imports only what is new; an interrupted import
    continues where it stopped.

    Example: relay import mlflow --from ./mlruns -p churn
    """
    from relayml.imports import import_mlflow, open_mlflow_source

    bar = _Bar(enabled=not json_output)
    with open_mlflow_source(source) as mlflow_source, open_cli_backend() as backend:
        try:
            report = import_mlflow(backend, mlflow_source, project, dry_run=dry_run, progress=bar)
        finally:
            bar.stop()
    if json_output:
        print_json(report.as_dict())
        return
    verb = "would import" if dry_run else "imported"
    console().print(
        key_value_table(
            {
                "experiments": ", ".join(report.experiments) or "none",
                "experiments created": str(report.experiments_created),
                f"runs {verb}": str(report.runs_imported),
                "runs continued": str(report.runs_continued),
                "runs already here": str(report.runs_present),
                "metric points": str(report.metric_points),
                "params": str(report.params),
                "artifacts": str(report.artifacts),
                f"model versions {verb}": str(report.versions_imported),
                "model versions already here": str(report.versions_present),
            },
            title=f"MLflow at {report.source} -> project {report.project}"
            + (" (dry run: nothing stored)" if dry_run else ""),
        )
    )
