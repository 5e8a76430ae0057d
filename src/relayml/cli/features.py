"""Commands of the feature store: `relay features plan | apply | list | show | versions | check |
promote | impact`. Definitions live in a Python module; `apply` shows the plan first."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

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
    truncate,
)
from relayml.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from relayml.domain.features import FeatureCheck, FeatureDefinition, FeaturePlan
    from relayml.domain.ports import Backend

__all__ = ["features_app"]

features_app = typer.Typer(
    help="The feature store: entities and feature sets declared in Python, versioned, checked, "
    "promoted through environments, and joined point in time into training frames.",
    no_args_is_help=True,
)

ModuleArgument = Annotated[str, typer.Argument(help="The Python file that declares features.")]
SetArgument = Annotated[str, typer.Argument(help="Feature set name (e.g. customer).")]
_STYLE = {"add": "green", "change": "yellow", "unchanged": "dim"}


def _plan_table(plan: FeaturePlan) -> Any:
    rows: list[list[str | Text]] = []
    for item in plan.items:
        versions = {
            "add": f"new v{item.new_version}",
            "change": f"v{item.version} -> v{item.new_version}",
            "unchanged": f"v{item.version}",
        }[item.action]
        changes = "; ".join(item.changes) if item.changes else ""
        rows.append(
            [
                item.kind,
                item.name,
                Text(item.action, style=_STYLE[item.action]),
                versions,
                truncate(changes, 100),
            ]
        )
    title = f"{'Applied to' if plan.applied else 'Plan for'} project {plan.project}"
    return table(["kind", "name", "action", "version", "changes"], rows, title=title)


def _specs(module: str) -> list[dict[str, Any]]:
    from relayml.features.declare import load_definitions

    return load_definitions(module)


@features_app.command("plan")
def features_plan(
    module: ModuleArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """Show what applying a module's definitions would add or change (nothing is stored).

    Example: relay features plan features.py -p churn
    """
    name = project_or_default(project)
    specs = _specs(module)
    with open_cli_backend() as backend:
        plan = backend.plan_features(name, specs)
    if json_output:
        print_json(plan)
        return
    console().print(_plan_table(plan))


@features_app.command("apply")
def features_apply(
    module: ModuleArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the plan of a module's definitions, then store the changes as new versions.

    Example: relay features apply features.py --yes -p churn
    """
    name = project_or_default(project)
    specs = _specs(module)
    with open_cli_backend() as backend:
        plan = backend.plan_features(name, specs)
        if not plan.changed:
            if json_output:
                print_json(plan)
            else:
                console().print(_plan_table(plan))
                console().print("Nothing to apply: every definition is unchanged.")
            return
        if not yes:
            console().print(_plan_table(plan))
            if not sys.stdin.isatty():
                raise InvalidInput("nothing applied: pass --yes to apply without a terminal.")
            if not typer.confirm("Apply these changes?", default=False):
                raise typer.Exit(1)
        applied = backend.apply_features(name, specs)
    if json_output:
        print_json(applied)
        return
    console().print(_plan_table(applied))


def _checks(backend: Backend, project: str, name: str) -> list[FeatureCheck]:
    return backend.list_feature_checks(project, name)


def _check_text(check: FeatureCheck | None, declared: int) -> str:
    if check is None:
        return "not run" if declared else "none declared"
    failed = sum(1 for o in check.outcomes if not o.passed)
    if not check.outcomes:
        return f"none declared (v{check.version})"
    state = "passed" if check.passed else f"failed {failed}/{len(check.outcomes)}"
    return f"{state} (v{check.version}, {format_time(check.created_at)})"


def _environments(found: FeatureDefinition) -> str:
    return ", ".join(f"{env} v{v}" for env, v in found.environments.items()) or "-"


@features_app.command("list")
def features_list(project: ProjectOption = None, json_output: JsonOption = False) -> None:
    """List entities, feature sets and on-demand sets: owner, version, checks, freshness.

    Example: relay features list -p churn
    """
    name = project_or_default(project)
    with open_cli_backend() as backend:
        found = backend.list_feature_definitions(name)
        checks = {d.name: _checks(backend, name, d.name) for d in found if d.kind == "feature_set"}
    if json_output:
        print_json(found)
        return
    rows = []
    for d in found:
        found_checks = checks.get(d.name) or []
        last = found_checks[0] if found_checks else None
        features = d.spec.get("features") or []
        rows.append(
            [
                d.name,
                d.kind,
                f"v{d.version}",
                str(d.spec.get("owner", "")),
                str(len(features)) if features else ", ".join(d.spec.get("join_keys", [])),
                _environments(d),
                _check_text(last, len(d.spec.get("checks", []))) if d.kind == "feature_set" else "",
                format_time(last.latest_event_time) if last and last.latest_event_time else "",
            ]
        )
    headers = ["name", "kind", "version", "owner", "features / keys", "environments", "checks"]
    console().print(table([*headers, "freshness"], rows, title=f"Features of project {name}"))
    if not found:
        console().print(
            f"Project {name!r} has no feature definitions yet; declare them in a module and run "
            "`relay features apply module.py`."
        )


def _definition(backend: Backend, project: str, name: str, version: int | None) -> Any:
    error: NotFound | None = None
    for kind in ("feature_set", "on_demand", "entity"):
        try:
            return backend.get_feature_definition(project, kind, name, version=version)
        except NotFound as exc:
            error = error or exc
    assert error is not None
    raise error


@features_app.command("show")
def features_show(
    name: SetArgument,
    version: Annotated[int | None, typer.Option("--version", help="A version number.")] = None,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a feature set: source, times, TTL, checks, freshness, features and the models using
    each.

    Example: relay features show customer -p churn
    """
    from relayml.features.people import models_using

    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        found = _definition(backend, project_name, name, version)
        is_set = found.kind == "feature_set"
        checks = _checks(backend, project_name, name) if is_set else []
        used = models_using(backend, project_name, name) if is_set else {}
    last = next((c for c in checks if c.version == found.version), None)
    if json_output:
        print_json({**found.model_dump(mode="json"), "checks": checks[:1], "used_by": used})
        return
    spec = found.spec
    out = console()
    facts = {
        found.kind.replace("_", " "): found.ref,
        "latest version": f"v{found.latest_version}",
        "owner": str(spec.get("owner", "")),
        "description": str(spec.get("description", "")),
        "entity": str(spec.get("entity", "")),
        "join keys": ", ".join(spec.get("join_keys", [])),
        "source": _source_text(spec.get("source")),
        "event time": str(spec.get("event_time", "")),
        "created time": str(spec.get("created_time") or ""),
        "ttl": str(spec.get("ttl") or ("none" if is_set else "")),
        "function": str(spec.get("function", "")),
        "inputs": ", ".join(spec.get("inputs", [])),
        "environments": _environments(found),
        "checks": _check_text(last, len(spec.get("checks", []))) if is_set else "",
        "freshness": format_time(last.latest_event_time) if last and last.latest_event_time else "",
        "created": f"{format_time(found.created_at)} by {found.created_by}",
    }
    out.print(key_value_table(facts))
    features = spec.get("features") or []
    if features:
        rows = [
            [
                f["name"],
                f["dtype"],
                f.get("owner") or str(spec.get("owner", "")),
                truncate(f.get("description", ""), 50),
                ", ".join(f"{k}={v}" for k, v in f.get("tags", {}).items()),
                ", ".join(used.get(f["name"], [])) or "-",
            ]
            for f in features
        ]
        columns = ["feature", "dtype", "owner", "description", "tags", "used by models"]
        out.print(table(columns, rows, title=f"Features of {found.ref}"))


def _source_text(source: Any) -> str:
    if not isinstance(source, dict):
        return ""
    if source.get("dataset"):
        return f"dataset {source['dataset']}"
    return f"pipeline {source.get('pipeline')} step {source.get('step')} ({source.get('output')})"


@features_app.command("versions")
def features_versions(
    name: SetArgument,
    kind: Annotated[str, typer.Option("--kind", help="entity, feature_set, on_demand.")] = (
        "feature_set"
    ),
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the versions of a definition, newest first (old versions stay readable).

    Example: relay features versions customer -p churn
    """
    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        versions = backend.list_feature_definition_versions(project_name, kind, name)
    if json_output:
        print_json(versions)
        return
    rows = [
        [f"v{v.version}", v.spec_hash[:12], v.created_by, format_time(v.created_at)]
        for v in versions
    ]
    console().print(table(["version", "spec", "by", "created"], rows, title=f"{kind} {name}"))


@features_app.command("check")
def features_check(
    name: SetArgument,
    version: Annotated[int | None, typer.Option("--version", help="A version number.")] = None,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run a feature set's data checks on its source and store them (exit code 1 on failure).

    Example: relay features check customer -p churn
    """
    from relayml.features.people import check_feature_set

    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        report = check_feature_set(backend, project_name, name, version=version)
    if json_output:
        print_json(report)
    else:
        rows: list[list[str | Text]] = [
            [
                Text("✓", style="bold green") if o.passed else Text("✗", style="bold red"),
                o.name,
                str(o.failing_rows),
                truncate(o.detail, 60),
            ]
            for o in report.outcomes
        ]
        title = f"Checks of {name}@{report.version}: {report.rows} rows, latest event " + (
            format_time(report.latest_event_time) if report.latest_event_time else "none"
        )
        console().print(table(["", "check", "failing rows", "detail"], rows, title=title))
    if not report.passed:
        raise typer.Exit(1)


@features_app.command("promote")
def features_promote(
    name: SetArgument,
    to: Annotated[str, typer.Option("--to", help="development, staging or production.")],
    version: Annotated[int | None, typer.Option("--version", help="Default: the latest.")] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")] = "",
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Move a feature set version into an environment; its checks must have passed.

    Example: relay features promote customer --to staging -p churn
    """
    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        moved = backend.promote_feature_set(project_name, name, to, version=version, reason=reason)
    if json_output:
        print_json(moved)
        return
    console().print(f"{moved.ref} is in {to} (environments: {_environments(moved)}).")


@features_app.command("impact")
def features_impact(
    feature: Annotated[str, typer.Argument(help="A feature: feature_set:feature.")],
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Which training sets and model versions use a feature: what breaks if it changes.

    Example: relay features impact customer:tenure -p churn
    """
    from relayml.features.people import impact

    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        found = impact(backend, project_name, feature)
    if json_output:
        print_json(found)
        return
    out = console()
    if not found.model_versions and not found.training_sets:
        out.print(f"No training set or model uses {found.feature} yet.")
        return
    out.print(
        key_value_table(
            {
                "feature": found.feature,
                "training sets": ", ".join(found.training_sets) or "-",
                "models": ", ".join(found.model_versions) or "-",
            }
        )
    )
