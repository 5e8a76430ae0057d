"""`relay predictions`: one logged prediction, and housekeeping of the logs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_time,
    key_value_table,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
)

if TYPE_CHECKING:
    from relayml.domain.monitoring import PredictionRecord

__all__ = ["predictions_app"]

predictions_app = typer.Typer(
    no_args_is_help=True,
    help="The model server's prediction log.\n\n"
    "Examples:\n\n"
    "relay predictions show 01a2b3c4d5e6f708090a0b0c\n\n"
    "relay predictions compact   (one file per day instead of one per second; relay server "
    "does it on its own)",
)


@predictions_app.command("show")
def show(
    prediction_id: Annotated[str, typer.Argument(help="From the answer's prediction_ids.")],
    shadow: Annotated[
        bool,
        typer.Option("--shadow", help="Only the shadows' answers to the same row (a list)."),
    ] = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """What went in, what came out, which version and variant answered, and when; the
    deployment's shadows' answers to the same row follow the live one."""
    from relayml.errors import NotFound

    with open_cli_backend() as backend:
        record = backend.get_prediction(project_or_default(project), prediction_id)
    if shadow:
        if not record.shadows:
            raise NotFound(
                f"no shadow answered prediction {prediction_id}: {record.deployment} had no "
                "shadow variant then."
            )
        if json_output:
            print_json([s.model_dump(mode="json", exclude={"shadows"}) for s in record.shadows])
            return
        for answer in record.shadows:
            console().print(key_value_table(_facts(answer), title=f"prediction {prediction_id}"))
        return
    if json_output:
        print_json(record.model_dump(mode="json"))
        return
    facts = _facts(record)
    for answer in record.shadows:
        facts[f"shadow {answer.variant}"] = (
            f"{answer.prediction} (probabilities {answer.probabilities})"
        )
    facts.update({f"input {k}": v for k, v in record.inputs.items()})
    console().print(key_value_table(facts, title=f"prediction {prediction_id}"))


def _facts(record: PredictionRecord) -> dict[str, Any]:
    return {
        "prediction": record.prediction,
        "probabilities": record.probabilities,
        "decision": record.decision,
        "model": f"{record.model}/{record.version} ({record.variant}, {record.mode})",
        "deployment": record.deployment,
        "when": format_time(record.timestamp),
    }


@predictions_app.command("compact")
def compact(project: ProjectOption = None, json_output: JsonOption = False) -> None:
    """Merge each closed day's log files into one per partition (today is left alone)."""
    with open_cli_backend() as backend:
        done = backend.compact_logs(project_or_default(project))
    if json_output:
        print_json(done)
        return
    if not done:
        console().print("Nothing to compact: no closed day has more than one file.")
        return
    rows = [[d["log"], d["partition"], d["day"], str(d["files"])] for d in done]
    console().print(table(["log", "partition", "day", "files merged"], rows))
