"""Commands for registered models: list, show, versions, evaluations and side-by-side comparison.

Promotions, approvals, the history of environments, policies and gate checks are in
:mod:`relayml.cli.promotions`, which adds its commands to the same ``relay models`` group.
How evaluations read (headline metrics, KPI values, the comparison) is in
:mod:`relayml.cli.evaluation_view`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    fit_title,
    format_bytes,
    format_time,
    key_value_table,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
    truncate,
)
from relayml.cli.evaluation_view import (
    compare_rows,
    evaluation_rows,
    pick_evaluation,
    print_comparison,
)

if TYPE_CHECKING:
    from relayml.domain.models import Evaluation, ModelVersion, Signature

__all__ = ["NameArgument", "RefArgument", "models_app"]

models_app = typer.Typer(
    help="Models: registered versions, their evaluations, environments and promotions. "
    "A version is named churn/3, churn@production (the version in an environment), "
    "or churn (the latest).",
    no_args_is_help=True,
)

RefArgument = Annotated[
    str,
    typer.Argument(
        help="Model version: name/version (churn/3), name@environment (churn@production) "
        "or a name alone for its latest version."
    ),
]
NameArgument = Annotated[str, typer.Argument(help="Model name.")]


def _environments(aliases: dict[str, int]) -> str:
    return ", ".join(f"{env}: v{version}" for env, version in sorted(aliases.items()))


_EVALUATION_COLUMNS = ["dataset", "rows", "metrics", "KPIs", "by", "evaluated"]


@models_app.command("list")
def models_list(project: ProjectOption = None, json_output: JsonOption = False) -> None:
    """List the registered models of a project with their latest version and environments.

    Example: relay models list -p churn
    """
    name = project_or_default(project)
    with open_cli_backend() as backend:
        models = backend.list_models(name)
    if json_output:
        print_json(models)
        return
    console().print(
        fit_title(
            table(
                ["model", "latest", "environments", "owner", "created"],
                (
                    [
                        m.name,
                        f"v{m.latest_version}" if m.latest_version else "",
                        _environments(m.aliases),
                        m.owner,
                        format_time(m.created_at),
                    ]
                    for m in models
                ),
                title=f"Models of project {name}",
            )
        )
    )
    if not models:
        console().print(
            f"Project {name!r} has no models yet. Log one with run.log_model(model, name=...)."
        )


def _signature_table(signature: Signature) -> Table:
    columns = [("input", c) for c in signature.inputs] + [("output", c) for c in signature.outputs]
    return table(
        ["", "column", "dtype", "nullable"],
        ([kind, c.name, c.dtype, "yes" if c.nullable else ""] for kind, c in columns),
        title="Signature",
    )


def _signature_facts(signature: Signature) -> dict[str, str]:
    classes = ", ".join(str(c) for c in signature.classes or [])
    return {
        "task": signature.task,
        "takes": signature.input_kind,
        "gives": f"shape {signature.output_shape}",
        "classes": classes,
        "probabilities": "yes (predict_proba)" if signature.has_proba else "",
    }


@models_app.command("show")
def models_show(
    ref: RefArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """Show one version: signature, requirements, files, environments and evaluations.

    Example: relay models show churn@production -p churn
    """
    name = project_or_default(project)
    with open_cli_backend() as backend:
        version = backend.get_model_version(name, ref)
        evaluations = backend.list_evaluations(name, version.ref)
    if json_output:
        print_json({**version.model_dump(mode="json"), "evaluations": evaluations})
        return
    out = console()
    out.print(
        key_value_table(
            {
                "model": version.ref,
                "project": version.project,
                "environments": ", ".join(version.aliases) or "none",
                "flavor": version.flavor,
                "description": version.description,
                "run": version.run_id or "",
                "created by": version.created_by,
                "created": format_time(version.created_at),
                **_signature_facts(version.signature),
            }
        )
    )
    out.print(_signature_table(version.signature))
    if version.requirements:
        out.print(table(["requirement"], ([r] for r in version.requirements), title="Requirements"))
    else:
        out.print("Requirements: none")
    out.print(
        table(
            ["path", "size", "sha256"],
            ([f.path, format_bytes(f.size), f.sha256[:12]] for f in version.files),
            title="Files",
        )
    )
    if evaluations:
        out.print(table(_EVALUATION_COLUMNS, evaluation_rows(evaluations), title="Evaluations"))
    else:
        out.print(f"Evaluations: none yet (evaluate {version.ref} with relay.evaluate()).")


@models_app.command("versions")
def models_versions(
    name: NameArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """List the versions of a model, newest first, with the environments they hold.

    Example: relay models versions churn -p churn
    """
    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        versions = backend.list_model_versions(project_name, name)
    if json_output:
        print_json(versions)
        return
    console().print(
        fit_title(
            table(
                [
                    "version",
                    "environments",
                    "flavor",
                    "run",
                    "created by",
                    "created",
                    "description",
                ],
                (
                    [
                        v.ref,
                        ", ".join(v.aliases),
                        v.flavor,
                        v.run_id or "",
                        v.created_by,
                        format_time(v.created_at),
                        truncate(v.description, 40),
                    ]
                    for v in versions
                ),
                title=f"Versions of {name} (project {project_name})",
            )
        )
    )


@models_app.command("evaluations")
def models_evaluations(
    ref: RefArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """List the evaluations of a version, newest first: dataset, rows, metrics and KPIs.

    Example: relay models evaluations churn/3 -p churn
    """
    name = project_or_default(project)
    with open_cli_backend() as backend:
        version = backend.get_model_version(name, ref)
        evaluations = backend.list_evaluations(name, version.ref)
    if json_output:
        print_json(evaluations)
        return
    out = console()
    out.print(
        fit_title(
            table(
                _EVALUATION_COLUMNS,
                evaluation_rows(evaluations),
                title=f"Evaluations of {version.ref} (project {name})",
            )
        )
    )
    if not evaluations:
        out.print(f"{version.ref} has no evaluations yet; evaluate it with relay.evaluate().")


@models_app.command("compare")
def models_compare(
    refs: Annotated[
        list[str],
        typer.Argument(help="Two or more versions: churn/2 churn/3 churn@production ..."),
    ],
    evaluation_dataset: Annotated[
        str | None,
        typer.Option(
            "--evaluation-dataset",
            "-d",
            help="Compare the evaluations on this dataset. Default: each version's newest.",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Compare versions side by side on their stored evaluations: metrics and KPIs.

    Each column is a version: its newest evaluation, or its newest on the
    dataset you name. The best value of each row is marked ★ (for loss and
    error metrics, the lowest).

    Example: relay models compare churn/2 churn/3 --evaluation-dataset holdout
    """
    if len(refs) < 2:
        raise typer.BadParameter("name at least two versions to compare.", param_hint="REFS")
    name = project_or_default(project)
    versions: list[ModelVersion] = []
    picked: list[tuple[str, Evaluation | None]] = []
    with open_cli_backend() as backend:
        for ref in refs:
            version = backend.get_model_version(name, ref)
            if any(v.ref == version.ref for v in versions):
                continue
            versions.append(version)
            evaluations = backend.list_evaluations(name, version.ref)
            picked.append((version.ref, pick_evaluation(evaluations, evaluation_dataset)))
    rows, best_of = compare_rows(picked)
    if json_output:
        print_json(
            {
                "dataset": evaluation_dataset,
                "versions": [
                    {"ref": v.ref, "environments": v.aliases, "evaluation": e}
                    for v, (_, e) in zip(versions, picked, strict=True)
                ],
                "best": best_of,
            }
        )
        return
    print_comparison(versions, picked, rows, evaluation_dataset)
