"""What every command shares: settings, the backend, output (Rich tables or JSON) and errors.

Heavy modules (SQLAlchemy, httpx, FastAPI...) are imported inside the functions that need them,
so that ``relay --help`` answers without loading them.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup
from typer.exceptions import TyperException

from relayml.cli._format import (
    fit_title,
    format_bytes,
    format_duration,
    format_number,
    format_time,
    format_value,
    key_value_table,
    plain_table,
    table,
    truncate,
)
from relayml.errors import InvalidInput, NotFound, RelayError

if TYPE_CHECKING:
    # typer vendors click; its groups take the vendored Context (typer.Context subclasses it)
    from typer._click.core import Context

    from relayml.config import Settings
    from relayml.domain.ports import Backend
    from relayml.domain.ports_tracking import TrackingPort

__all__ = [
    "JsonOption",
    "ProjectOption",
    "RelayGroup",
    "console",
    "current_project",
    "error_console",
    "fit_title",
    "format_bytes",
    "format_duration",
    "format_number",
    "format_time",
    "format_value",
    "key_value_table",
    "open_cli_backend",
    "open_cli_tracking",
    "plain_table",
    "print_error",
    "print_json",
    "project_file",
    "project_or_default",
    "read_project_file",
    "resolve_run_id",
    "settings",
    "table",
    "truncate",
]

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON only (no table).")
]
ProjectOption = Annotated[
    str | None,
    typer.Option(
        "--project",
        "-p",
        help="Project name. Default: RELAY_PROJECT, else the folder's `relay projects use` "
        "choice, else the only project.",
        show_default=False,
    ),
]

_RUN_PREFIX = re.compile(r"[0-9a-f]{6,31}")
_PIPE_WIDTH = 200


def console() -> Console:
    """A console on the current standard output (resolved at each call, for test runners).

    Output that is not a terminal (a pipe, a file) gets wide lines rather than Rich's 80 columns,
    unless COLUMNS says otherwise.
    """
    out = Console(highlight=False, markup=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = Console(highlight=False, markup=False, width=_PIPE_WIDTH)
    return out


def error_console() -> Console:
    """A console on the current standard error."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    """Print 'Error: <message>' to standard error (the message is not read as Rich markup)."""
    from rich.text import Text

    error_console().print(Text.assemble(("Error:", "bold red"), " ", message))


class RelayGroup(TyperGroup):
    """The top-level group: turns RelayError into one 'Error: ...' line and exit code 1."""

    ORDER = (
        "config", "db", "projects", "experiments", "runs", "artifacts", "datasets", "data",
        "models", "policy",
        "check", "lineage", "pipelines", "serve", "deploy", "monitor", "alerts", "decisions",
        "feedback", "explain", "predictions", "audit", "server",
    )  # fmt: skip

    def list_commands(self, ctx: Context) -> list[str]:
        """Commands in the order a user meets them, then any others by name."""
        names = super().list_commands(ctx)
        rank = {name: index for index, name in enumerate(self.ORDER)}
        return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))

    def invoke(self, ctx: Context) -> Any:
        """Run the command; expected errors print their message instead of a traceback."""
        try:
            return super().invoke(ctx)
        except RelayError as exc:
            print_error(exc.message)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, TyperException):
            raise  # --help, usage errors: the command line's own exits, not storage failures
        except Exception as exc:
            translated = _storage_failure(exc, ctx)
            if translated is None:
                raise
            print_error(translated.message)
            raise typer.Exit(1) from None


def _storage_failure(exc: Exception, ctx: Context) -> RelayError | None:
    """A storage library's error (botocore, aiohttp...) that escaped a command, as one sentence.

    The artifact store translates its own calls; this catches the other readers and writers of
    RELAY_ARTIFACTS_URL (the prediction log, Parquet scans) at the last boundary.
    """
    from relayml.artifacts.failures import from_storage_library

    try:
        current = settings()
    except RelayError:
        return None
    name = ctx.invoked_subcommand
    doing = f"running `relay {name}`" if name else "running the command"
    url, options = current.resolved_artifacts_url, current.artifacts_options
    return from_storage_library(exc, url, options, doing)


_read: tuple[tuple[object, ...], Settings] | None = None  # the last settings read, and from what


def settings() -> Settings:
    """The settings from the environment; a bad value is an InvalidInput naming the variable.

    Read once per environment: a command asks several times (which project, then the backend),
    and each read parses every RELAY_ variable again.
    """
    global _read
    from pydantic import ValidationError

    from relayml.config import get_settings, settings_inputs

    key = settings_inputs()
    if _read is not None and _read[0] == key:
        return _read[1]
    try:
        current = get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"RELAY_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidInput(f"invalid setting ({problems}). Fix the environment variable.") from None
    _read = (key, current)
    return current


PROJECT_FILE = "project"
"""The file in RELAY_HOME that `relay projects use` writes: the folder's current project."""


def project_file(home: Path | None = None) -> Path:
    """Where this folder's current project is kept ($RELAY_HOME/project)."""
    return (home if home is not None else settings().home) / PROJECT_FILE


def read_project_file(home: Path | None = None) -> str | None:
    """The project `relay projects use` chose for this folder, or None."""
    try:
        name = project_file(home).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return name or None


def current_project(project: str | None = None) -> tuple[str, str]:
    """The project a command works on, and why: (name, reason).

    In order: the -p option; RELAY_PROJECT when set; the folder's choice (`relay projects use`);
    the only project in the store; the `project` setting's default when that project exists.
    """
    if project:
        return project, "--project"
    current = settings()
    if "project" in current.model_fields_set:
        return current.project, "RELAY_PROJECT"
    chosen = read_project_file(current.home)
    if chosen:
        return chosen, f"chosen with `relay projects use` in {project_file(current.home)}"
    with open_cli_tracking() as backend:
        names = sorted(p.name for p in backend.list_projects())
    if len(names) == 1:
        return names[0], "the only project"
    if current.project in names:
        return current.project, "the default project"
    if not names:
        raise NotFound(
            "there is no project yet. Create one with `relay projects create NAME` "
            "(or relay.init(project=...) from Python)."
        )
    raise InvalidInput(
        f"which project? This store has {len(names)}: {', '.join(names[:10])}. Name one with "
        "-p NAME, set RELAY_PROJECT, or choose one for this folder with `relay projects use NAME`."
    )


def project_or_default(project: str | None) -> str:
    """The project a command works on (see current_project); named on stderr when implicit."""
    name, reason = current_project(project)
    if reason not in ("--project", "RELAY_PROJECT"):
        error_console().print(Text(f"Project: {name} ({reason}; -p NAME for another)", "dim"))
    return name


@contextmanager
def open_cli_backend() -> Iterator[Backend]:
    """The backend the settings ask for (HTTP when RELAY_SERVER_URL is set), closed after use."""
    from relayml.transport import open_backend

    backend = open_backend(settings())
    try:
        yield backend
    finally:
        backend.close()


@contextmanager
def open_cli_tracking() -> Iterator[TrackingPort]:
    """Like open_cli_backend, for commands that need only projects, experiments, runs, artifacts.

    In-process it loads none of the model, monitoring or governance services (a third of a
    list command's start-up).
    """
    from relayml.transport import open_tracking

    backend = open_tracking(settings())
    try:
        yield backend
    finally:
        backend.close()


def resolve_run_id(backend: TrackingPort, run_id: str) -> str:
    """A full run id, from a full id or a unique prefix of 6 to 31 hex characters."""
    if not _RUN_PREFIX.fullmatch(run_id):
        return run_id
    matches: list[str] = []
    for project in backend.list_projects():
        page = backend.search_runs(
            project.name, filter=f"run_id LIKE '{run_id}%'", max_results=2, include_deleted=True
        )
        matches.extend(run.id for run in page.runs)
        if len(matches) > 1:
            break
    if not matches:
        raise NotFound(
            f"no run id starts with {run_id!r}. Find run ids with `relay runs list` "
            "or `relay runs search`."
        )
    if len(matches) > 1:
        raise InvalidInput(
            f"run id prefix {run_id!r} is ambiguous ({', '.join(matches[:2])}, ...); "
            "type more characters."
        )
    return matches[0]


def print_json(data: Any) -> None:
    """Print data as indented JSON; NaN and infinities become the strings 'NaN', 'Infinity'."""
    from pydantic_core import to_json

    sys.stdout.write(to_json(data, indent=2, inf_nan_mode="strings").decode() + "\n")
    sys.stdout.flush()
