"""`relay feedback`: flag a prediction that looks wrong, review flags, resolve them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_time,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
    truncate,
)

if TYPE_CHECKING:
    from relayml.domain.monitoring import FeedbackFlag, PredictionRecord

__all__ = ["feedback_app", "parse_value"]

feedback_app = typer.Typer(
    no_args_is_help=True,
    help="Subject-matter experts flag predictions that look wrong; data scientists review them.\n\n"
    "Examples:\n\n"
    "relay feedback flag 01a2b3c4d5e6f708090a0b0c --wrong --correct 0 -m 'loyal for 10 years'\n\n"
    "relay feedback list --model churn\n\n"
    "relay feedback resolve 3 --note 'tenure was mis-read; fixed in the pipeline'",
)


def parse_value(text: str) -> Any:
    """A typed value from the command line: true/false, a whole number, a number, else text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


@feedback_app.command("flag")
def flag(
    prediction_id: Annotated[str, typer.Argument(help="From the prediction_ids of the answer.")],
    wrong: Annotated[
        bool,
        typer.Option(
            "--wrong/--unexpected", help="Wrong (default), or unexpected but maybe right."
        ),
    ] = True,
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why, in your words.")] = "",
    correct: Annotated[
        str | None,
        typer.Option(
            help="The right answer, if you know it: it becomes the outcome.", show_default=False
        ),
    ] = None,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Flag one prediction as wrong or unexpected, with a comment and maybe the right answer."""
    value = parse_value(correct) if correct is not None else None
    with open_cli_backend() as backend:
        result = backend.flag_prediction(
            project_or_default(project),
            prediction_id,
            "wrong" if wrong else "unexpected",
            comment=comment,
            correct_value=value,
        )
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    told = f"; the right answer {value!r} is recorded as its outcome" if value is not None else ""
    console().print(
        f"Flag {result.id}: prediction {prediction_id} of {result.model} is {result.kind}{told}."
    )


def _inputs(record: PredictionRecord | None) -> str:
    if record is None:
        return "(not in the log)"
    return truncate(", ".join(f"{k}={v}" for k, v in record.inputs.items()), 60)


@feedback_app.command("list")
def list_flags(
    model: Annotated[str | None, typer.Option(help="Only this model's flags.")] = None,
    all_flags: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Add each prediction's three strongest inputs.")
    ] = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Flags with the flagged prediction's inputs and answer (open ones unless --all)."""
    from relayml.errors import NotFound

    chosen = project_or_default(project)
    with open_cli_backend() as backend:
        flags = backend.list_flags(chosen, model, None if all_flags else "open")
        records: dict[int, PredictionRecord | None] = {}
        why: dict[int, str] = {}
        for item in flags:
            try:
                records[item.id] = backend.get_prediction(chosen, item.prediction_id)
            except NotFound:
                records[item.id] = None
                continue
            if explain:
                result = backend.explain_prediction(chosen, item.prediction_id)
                pairs = zip(result["columns"], result["contributions"], strict=True)
                strongest = sorted(pairs, key=lambda p: -abs(p[1]))[:3]
                why[item.id] = ", ".join(f"{k} {v:+.3g}" for k, v in strongest)
    if json_output:
        print_json(
            [
                {
                    **f.model_dump(mode="json"),
                    "prediction": (r.model_dump(mode="json") if (r := records[f.id]) else None),
                    **({"explanation": why.get(f.id)} if explain else {}),
                }
                for f in flags
            ]
        )
        return
    if not flags:
        console().print("No flags" + ("" if all_flags else " open") + ".")
        return
    headers = [
        "id",
        "model",
        "kind",
        "by",
        "when",
        "answer",
        "right",
        "inputs",
        "comment",
        "status",
    ]
    rows = [_row(f, records[f.id]) for f in flags]
    if explain:
        headers.insert(8, "strongest inputs")
        for row, item in zip(rows, flags, strict=True):
            row.insert(8, why.get(item.id, ""))
    console().print(table(headers, rows))


def _row(flag: FeedbackFlag, record: PredictionRecord | None) -> list[str]:
    answer = "?" if record is None else f"{record.prediction} (v{record.version})"
    right = "" if flag.correct_value is None else str(flag.correct_value)
    return [
        str(flag.id),
        flag.model,
        flag.kind,
        flag.created_by,
        format_time(flag.created_at),
        answer,
        right,
        _inputs(record),
        flag.comment,
        flag.status if flag.status == "open" else f"resolved: {flag.resolution}",
    ]


@feedback_app.command("resolve")
def resolve(
    flag_id: Annotated[int, typer.Argument(help="The flag's number (relay feedback list).")],
    note: Annotated[str, typer.Option("--note", "-m", help="What was done about it.")],
    project: ProjectOption = None,
) -> None:
    """Close a flag, saying what was done."""
    with open_cli_backend() as backend:
        result = backend.resolve_flag(project_or_default(project), flag_id, note)
    console().print(f"Flag {result.id} resolved by {result.resolved_by}: {result.resolution}")
