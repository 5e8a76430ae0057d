"""`relay init NAME`: scaffold a project the way a platform team hands it to data scientists."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from relayml.cli._common import JsonOption, console, print_json

if TYPE_CHECKING:
    from rich.tree import Tree

    from relayml.scaffold import Scaffold

__all__ = ["init"]


def init(
    name: Annotated[
        str,
        typer.Argument(
            help="The project's name (letters, digits, - _); its Python package is derived "
            "from it: my-project -> my_project.",
            show_default=False,
        ),
    ],
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            "-d",
            help="The folder to write into. Default: ./NAME.",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    business_question: Annotated[
        str | None,
        typer.Option(
            "--business-question",
            "-q",
            help="What the model answers (goes to relay.yaml and the README).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Write into a folder that is not empty (same-named files replaced)."
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Scaffold a project: relay.yaml, a pipeline package, tests, Makefile, pre-commit and CI.

    The project's own checks pass as written: `make test lint train check` in the new folder.
    Nothing is stored in relay until you run them.

    Example: relay init churn-model --business-question "Who will leave next month?"
    """
    from relayml.scaffold import render_project

    scaffold = render_project(
        name, directory or Path(name), business_question=business_question, force=force
    )
    if json_output:
        print_json(
            {
                "root": str(scaffold.root),
                "project": scaffold.project,
                "package": scaffold.package,
                "files": [p.as_posix() for p in scaffold.files],
                "replaced": [p.as_posix() for p in scaffold.replaced],
            }
        )
        return
    out = console()
    out.print(_tree(scaffold))
    if scaffold.replaced:
        out.print(f"Replaced {len(scaffold.replaced)} existing file(s) (--force).")
    out.print(f"Project {scaffold.project} written to {scaffold.root}. Next:")
    for command, what in _next_steps(scaffold):
        out.print(f"  {command:<34} {what}")


def _tree(scaffold: Scaffold) -> Tree:
    """The written files as a tree under the project's folder."""
    from rich.tree import Tree

    root = Tree(f"{scaffold.root}/", guide_style="dim")
    branches: dict[Path, Tree] = {Path(): root}
    folders_first = sorted(
        scaffold.files, key=lambda p: [(0, part) for part in p.parent.parts] + [(1, p.name)]
    )
    for path in folders_first:
        for depth in range(1, len(path.parts)):
            folder = Path(*path.parts[:depth])
            if folder not in branches:
                branches[folder] = branches[folder.parent].add(f"{folder.name}/")
        branches[path.parent].add(path.name)
    return root


def _next_steps(scaffold: Scaffold) -> list[tuple[str, str]]:
    return [
        (f"cd {scaffold.root}", ""),
        ("make install", "the package, pytest, ruff and the pre-commit hooks"),
        ("make test lint", "what CI runs on every pull request"),
        ("make train", "the pipeline: load, check, features, train, evaluate"),
        ("make check", "the staging gates of relay.yaml on the new version"),
        ("make features", "store the feature definitions of features.py"),
    ]
