"""The project's promotion policy (`relay policy show | set`) and gate checks for CI
(`relay check model`: an exit code and a JUnit XML report)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
)
from relayml.cli.models import RefArgument
from relayml.cli.promotions import CanaryOption, EnvOption, ShadowOption, gate_table, target
from relayml.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from relayml.domain.models import GateReport, GateResult

__all__ = ["check_app", "policy_app", "write_junit"]

policy_app = typer.Typer(
    help="The project's promotion policy (relay.yaml): the checks and approvals each "
    "environment demands before a version moves in.",
    no_args_is_help=True,
)
check_app = typer.Typer(
    help="Run quality gates without changing anything; the exit code tells CI the outcome.",
    no_args_is_help=True,
)


# -- policy ----------------------------------------------------------------------------------


def _policy_yaml(document: dict[str, Any]) -> str:
    """The policy as YAML, leaving out what merely repeats a default."""
    import yaml

    from relayml.models.policy import parse_policy

    try:
        shown = parse_policy(document).model_dump(mode="json", exclude_defaults=True)
    except InvalidInput:  # a newer server's policy: show it as it came
        shown = document
    return yaml.safe_dump(shown, sort_keys=False, allow_unicode=True)


@policy_app.command("show")
def policy_show(project: ProjectOption = None, json_output: JsonOption = False) -> None:
    """Show the project's current promotion policy and its revision.

    Example: relay policy show -p churn
    """
    name = project_or_default(project)
    with open_cli_backend() as backend:
        info = backend.get_policy(name)
    if json_output:
        print_json(info)
        return
    out = console()
    if info.revision is None:
        out.print(
            f"Project {name!r} has no promotion policy yet: any version may enter any "
            "environment. Write one in relay.yaml and store it with `relay policy set`."
        )
        return
    out.print(Text(f"Policy of project {name}, revision {info.revision}", style="bold"))
    out.print(Text(_policy_yaml(info.document).rstrip()))


def _read_policy(path: Path) -> str:
    import yaml

    if not path.is_file():
        where = "is a folder" if path.is_dir() else f"does not exist (in {Path.cwd()})"
        raise NotFound(
            f"policy file {str(path)!r} {where}. Write the policy there or name its file: "
            "relay policy set path/to/policy.yaml"
        )
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text; a policy is a YAML file.") from None
    try:
        yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise InvalidInput(f"{path} is not valid YAML{where}: {problem}.") from None
    return source


def _summary(document: dict[str, Any]) -> str:
    parts = []
    for env, rules in document.get("environments", {}).items():
        facts = [f"requires {', '.join(rules['requires'])}"] if rules.get("requires") else []
        checks = len(rules.get("checks", []))
        facts.append(f"{checks} check{'s' if checks != 1 else ''}")
        roles = [a["role"] for a in rules.get("approvals", [])]
        if roles:
            facts.append(f"approval by {', '.join(roles)}")
        parts.append(f"{env} ({', '.join(facts)})")
    return "; ".join(parts) or "no environment rules"


@policy_app.command("set")
def policy_set(
    file: Annotated[Path, typer.Argument(help="The policy YAML file.", dir_okay=False)] = Path(
        "relay.yaml"
    ),
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Store a new revision of the project's promotion policy from a YAML file.

    Per environment, the file says what a version must pass to move in:
    requires (environments it must have been in), checks (metric with
    min/max, no_regression, segment_gap) and approvals (roles that approve).
    Every promotion records the policy revision it was judged by.

    Example: relay policy set relay.yaml -p churn
    """
    source = _read_policy(file)
    name = project_or_default(project)
    with open_cli_backend() as backend:
        try:
            info = backend.set_policy(name, source)
        except InvalidInput as exc:
            raise InvalidInput(f"{file}: {exc.message}") from None
    if json_output:
        print_json(info)
        return
    console().print(
        f"Stored policy revision {info.revision} of project {name}: {_summary(info.document)}."
    )


# -- check -----------------------------------------------------------------------------------


def _failure_message(gate: GateResult) -> str:
    if gate.figure is None:
        return gate.detail or f"{gate.name} failed"
    message = f"{gate.name}: figure {format_number(gate.figure)}"
    if gate.threshold is not None:
        message += f", threshold {format_number(gate.threshold)}"
    return message


def write_junit(report: GateReport, path: Path) -> None:
    """Write the gates as a JUnit XML report: one test suite, one test case per gate."""
    import xml.etree.ElementTree as ET

    ref = f"{report.model}/{report.version}"
    failures = sum(1 for g in report.gates if not g.passed)
    counts = {"tests": str(len(report.gates)), "failures": str(failures), "errors": "0"}
    root = ET.Element("testsuites", counts)
    suite = ET.SubElement(
        root, "testsuite", {"name": f"relay gates {ref} → {report.environment}", **counts}
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (
        ("model", ref),
        ("environment", report.environment),
        ("approvals_needed", ", ".join(report.approvals_needed)),
    ):
        ET.SubElement(properties, "property", name=key, value=value)
    for gate in report.gates:
        case = ET.SubElement(
            suite, "testcase", name=gate.name, classname=f"relay.gates.{report.environment}"
        )
        if gate.passed:
            ET.SubElement(case, "system-out").text = gate.detail
        else:
            failure = ET.SubElement(
                case, "failure", message=_failure_message(gate), type="GateFailed"
            )
            failure.text = gate.detail
    tree = ET.ElementTree(root)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)


@check_app.command("model")
def check_model(
    ref: RefArgument,
    env: EnvOption,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", help="Also write the gates as a JUnit XML file (for CI).", dir_okay=False
        ),
    ] = None,
    canary: CanaryOption = False,
    shadow: ShadowOption = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run the gates a version must pass to enter an environment, changing nothing.

    With --canary (--shadow): the gates of the policy's canary (shadow) rule instead.

    Exits 0 when every gate passed and 1 otherwise (approvals still needed
    are listed but do not count).

    Example: relay check model churn/3 --env production --junit reports/gates.xml
    """
    name = project_or_default(project)
    with open_cli_backend() as backend:
        report = backend.check_promotion(name, ref, target(env, canary, shadow))
    if junit is not None:
        write_junit(report, junit)
    if json_output:
        print_json({**report.model_dump(mode="json"), "passed": report.passed})
    else:
        _print_report(report, junit)
    if not report.passed:
        raise typer.Exit(1)


def _print_report(report: GateReport, junit: Path | None) -> None:
    out = console()
    ref = f"{report.model}/{report.version}"
    failed = [g for g in report.gates if not g.passed]
    if report.gates:
        out.print(gate_table(report.gates, title=f"Gates for {ref} → {report.environment}"))
    if failed:
        headline = f"{len(failed)} of {len(report.gates)} gates failed: {ref} may not enter "
        out.print(Text.assemble(("FAILED", "bold red"), "  ", headline + report.environment + "."))
    elif report.gates:
        out.print(Text.assemble(("PASSED", "bold green"), f"  every gate passed for {ref}."))
    else:
        out.print(
            Text.assemble(
                ("PASSED", "bold green"),
                f"  the policy sets no gates for {report.environment}.",
            )
        )
    if report.approvals_needed:
        out.print(f"Approvals still needed: {', '.join(report.approvals_needed)}")
    if junit is not None:
        out.print(f"JUnit report: {junit}")
