"""`relay decisions`: business rules over a model's outputs, owned by subject-matter experts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_time,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
)

__all__ = ["decisions_app"]

decisions_app = typer.Typer(
    no_args_is_help=True,
    help="Decision tables: ordered rules that turn a model's score and a customer's fields into an "
    "action (call, email, ...). The model server applies the newest table after the model and "
    "returns the decision with the prediction.\n\n"
    "Examples:\n\n"
    "relay decisions test churn decisions.yaml --data customers@latest\n\n"
    "relay decisions apply churn decisions.yaml\n\n"
    "relay decisions show churn",
)

ModelArgument = Annotated[str, typer.Argument(help="The registered model, e.g. churn.")]
FileArgument = Annotated[Path, typer.Argument(help="The decision table (YAML).")]


def _read(path: Path) -> str:
    from relayml.errors import InvalidInput

    if not path.is_file():
        raise InvalidInput(f"{path} is not a file; write the decision table in YAML.")
    return path.read_text()


@decisions_app.command("apply")
def apply(
    model: ModelArgument,
    path: FileArgument,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Store the table as the model's new revision (servers pick it up within seconds)."""
    with open_cli_backend() as backend:
        info = backend.set_decision_table(project_or_default(project), model, _read(path))
    if json_output:
        print_json(info.model_dump(mode="json"))
        return
    rules = len(info.document.get("rules", []))
    console().print(f"{model}: decision table revision {info.revision} ({rules} rules) applied.")


@decisions_app.command("show")
def show(
    model: ModelArgument,
    revision: Annotated[int | None, typer.Option(help="An older revision.")] = None,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """The model's decision table as written, with who set it and when."""
    with open_cli_backend() as backend:
        info = backend.get_decision_table(project_or_default(project), model, revision)
    if json_output:
        print_json(info.model_dump(mode="json"))
        return
    out = console()
    out.print(
        Text.assemble((model, "bold")),
        f"revision {info.revision}, by {info.created_by} on {format_time(info.created_at)}",
    )
    out.print(info.source.rstrip(), markup=False, highlight=False)


@decisions_app.command("test")
def test(
    model: ModelArgument,
    path: FileArgument,
    data: Annotated[
        str | None,
        typer.Option(
            help="A dataset version to try it on: customers@latest "
            "(default: the data the model version was trained on).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            help="Model version scoring the data: churn/3 (default: production, else the latest)."
        ),
    ] = None,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """How many rows of a dataset each rule would hit, and where rules overlap; stores nothing."""
    from relayml.data.sources import load_dataset
    from relayml.domain.decisions import parse_decision_table, rule_hits, validate_fields
    from relayml.errors import InvalidInput, NotFound
    from relayml.models.publish import load_model
    from relayml.monitoring.decision_tables import decision_fields

    table_ = parse_decision_table(_read(path))
    chosen = project_or_default(project)
    with open_cli_backend() as backend:
        ref = version
        if ref is None:
            try:
                ref = str(backend.get_model_version(chosen, f"{model}@production").version)
                ref = f"{model}/{ref}"
            except NotFound:
                ref = model
        predictor = load_model(backend, chosen, ref)
        validate_fields(table_, decision_fields(predictor.signature))
        if data is None:
            trained_on = backend.get_model_version(chosen, ref).details.get("datasets") or []
            if not trained_on:
                raise InvalidInput(
                    f"{ref} was logged without its training dataset; "
                    "name the data to try the table on with --data, e.g. --data customers@latest."
                )
            data = str(trained_on[0])
        frame = load_dataset(backend, chosen, data)
    inputs = frame[[c.name for c in predictor.signature.inputs]].copy()
    scored = inputs.assign(prediction=predictor.predict(inputs))
    if "score" in decision_fields(predictor.signature):
        scored["score"] = predictor.predict_proba(inputs)[:, 1]
    hits = rule_hits(table_, scored)
    if json_output:
        print_json(hits)
        return
    rows: list[list[Any]] = []
    for hit in hits:
        overlaps = ", ".join(f"{k} ({v})" for k, v in (hit.get("overlaps") or {}).items() if v)
        rows.append(
            [
                str(hit.get("number") or ""),
                str(hit["name"]),
                str(hit.get("action") or ""),
                str(hit.get("matches", "")),
                str(hit.get("decides", "")),
                f"{hit.get('share', 0):.1%}",
                overlaps,
            ]
        )
    out = console()
    out.print(f"{table_.hit_policy} hit policy on {len(scored)} rows of {data}, scored by {ref}")
    headers = ["#", "rule", "action", "matches", "decides", "share", "overlaps with"]
    out.print(table(headers, rows))
