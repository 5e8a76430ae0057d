"""`relay explain`: why the model decided this (one prediction), or what drives it (a version)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_number,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
)

__all__ = ["explain"]


def _bar(value: float, largest: float, width: int = 24) -> Text:
    length = round(abs(value) / largest * width) if largest else 0
    return Text("█" * length, style="red" if value > 0 else "green")


def explain(
    target: Annotated[
        str,
        typer.Argument(
            help="A prediction id (from the answer's prediction_ids), or a model version "
            "(churn/3) with --global.",
            show_default=False,
        ),
    ],
    global_: Annotated[
        bool, typer.Option("--global", help="Importance of each input for a model version.")
    ] = False,
    data: Annotated[
        str | None, typer.Option(help="With --global: a dataset instead of the training data.")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Show this many inputs.")] = 10,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Why did the model decide this? Each input's push up or down, largest first.

    Examples:
      relay explain 01a2b3c4d5e6f708090a0b0c
      relay explain churn/3 --global
    """
    chosen = project_or_default(project)
    with open_cli_backend() as backend:
        if global_:
            result = backend.model_importance(chosen, target, data)
        else:
            result = backend.explain_prediction(chosen, target)
    if json_output:
        print_json(result)
        return
    out = console()
    if global_:
        importance: dict[str, float] = result["importance"]
        largest = max(importance.values(), default=0.0)
        rows: list[list[str | Text]] = [
            [k, format_number(v), _bar(v, largest)] for k, v in list(importance.items())[:top]
        ]
        out.print(Text.assemble((f"{result['model']}/{result['version']}", "bold"),
                                f" on {result['data']}"))  # fmt: skip
        out.print(table(["input", "mean |contribution|", ""], rows))
        return
    pairs: list[tuple[str, Any, float]] = sorted(
        zip(result["columns"], result["values"], result["contributions"], strict=True),
        key=lambda item: -abs(item[2]),
    )
    largest = max((abs(c) for _, _, c in pairs), default=0.0)
    decision = f", decision {result['decision']!r}" if result.get("decision") is not None else ""
    out.print(
        Text.assemble((f"{result['model']}/{result['version']}", "bold")),
        f"answered {result['answer']!r}{decision}. {result['output']}: "
        f"{format_number(result['base_value'])} on average, "
        f"{format_number(result['base_value'] + sum(c for _, _, c in pairs))} here.",
    )
    lines: list[list[str | Text]] = [
        [k, str(v), f"{c:+.4g}", _bar(c, largest)] for k, v, c in pairs[:top]
    ]
    out.print(table(["input", "value", "contribution", ""], lines))
    out.print(Text(f"{result['method']}; background: {result['background']}", style="dim"))
