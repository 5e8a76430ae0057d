"""Commands that move versions between environments: promote, approve, reject, and history.

They join the ``relay models`` group defined in :mod:`relayml.cli.models`; the gate rendering
here is shared with ``relay check model`` (:mod:`relayml.cli.policy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_duration,
    format_number,
    format_time,
    open_cli_backend,
    plain_table,
    print_json,
    project_or_default,
    table,
)
from relayml.cli.models import NameArgument, RefArgument, models_app

if TYPE_CHECKING:
    from relayml.domain.models import AliasEvent, GateResult, Promotion
    from relayml.domain.ports import Backend

__all__ = ["CanaryOption", "EnvOption", "ShadowOption", "gate_table", "status_text", "target"]

STATUS_STYLE = {
    "PROMOTED": "bold green",
    "PENDING_APPROVAL": "bold yellow",
    "FAILED": "bold red",
    "REJECTED": "bold red",
}
_PASS, _FAIL = Text("✓", style="bold green"), Text("✗", style="bold red")


def _check_environment(value: str) -> str:
    from relayml.domain.models import ENVIRONMENTS

    if value not in ENVIRONMENTS:
        raise typer.BadParameter(
            f"unknown environment {value!r}; environments are {', '.join(ENVIRONMENTS)}."
        )
    return value


def _environment_option(*names: str, help: str) -> Any:
    return typer.Option(*names, help=help, show_default=False, callback=_check_environment)


ToOption = Annotated[
    str, _environment_option("--to", "-t", help="Environment: development, staging or production.")
]
EnvOption = Annotated[
    str,
    _environment_option("--env", "-e", help="Environment: development, staging or production."),
]
CanaryOption = Annotated[
    bool,
    typer.Option(
        "--canary",
        help="A clearance to take a share of the environment's traffic (a canary or A/B "
        "variant) without holding it, under the policy's canary rule.",
    ),
]
ShadowOption = Annotated[
    bool,
    typer.Option(
        "--shadow", help="A clearance to get a copy of its requests, under the shadow rule."
    ),
]
CommentOption = Annotated[
    str, typer.Option("--comment", "-m", help="Why: stored with the decision.")
]


# -- shared rendering ------------------------------------------------------------------------


def gate_table(gates: Sequence[GateResult], *, title: str | None = "Gates") -> Table:
    """Each gate with ✓ or ✗, its figure, threshold and detail."""
    result = plain_table(["", "gate", "figure", "threshold", "detail"], title=title)
    for gate in gates:
        result.add_row(
            _PASS if gate.passed else _FAIL,
            Text(gate.name, style="" if gate.passed else "red"),
            format_number(gate.figure),
            format_number(gate.threshold),
            gate.detail,
        )
    return result


def _gate_line(gate: GateResult) -> Text:
    line = Text.assemble(_PASS if gate.passed else _FAIL, " ", gate.name)
    if gate.figure is not None:
        line.append(f": {format_number(gate.figure)}")
        if gate.threshold is not None:
            line.append(f" (threshold {format_number(gate.threshold)})")
    elif gate.detail:
        line.append(f": {gate.detail}", style="dim")
    return line


def status_text(status: str) -> Text:
    """A promotion status in its colour."""
    return Text(status, style=STATUS_STYLE.get(status, "bold"))


def target(environment: str, canary: bool, shadow: bool) -> str:
    """The promotion target: the environment, or the environment and a stage."""
    if canary and shadow:
        raise typer.BadParameter("choose --canary or --shadow, not both.")
    stage = "canary" if canary else "shadow" if shadow else None
    return f"{environment}:{stage}" if stage else environment


def _approve_command(promotion: Promotion, project: str) -> str:
    ref = f"{promotion.model}/{promotion.version}"
    place, _, stage = promotion.environment.partition(":")
    flag = f" --{stage}" if stage else ""
    return f"relay models approve {ref} --env {place}{flag} -p {project}"


def _holder(backend: Backend, project: str, ref: str, environment: str) -> int | None:
    """The version that holds an environment now (before a promotion moves it)."""
    from relayml.domain.models import parse_model_ref

    return backend.get_model(project, parse_model_ref(ref).name).aliases.get(environment)


def _print_outcome(promotion: Promotion, project: str, previous: int | None) -> None:
    """The headline of a promotion (status in colour, what it means), then its gates."""
    out = console()
    ref, env = f"{promotion.model}/{promotion.version}", promotion.environment
    place, _, stage = env.partition(":")
    if stage:
        env = f"{place} as a {stage}"
    failed = [g for g in promotion.gates if not g.passed]
    if promotion.status == "PROMOTED" and stage:
        share = f"{ref}:10" if stage == "canary" else ref
        message = (
            f"{ref} is cleared to serve {env}: `relay deploy {promotion.model} --env {place} "
            f"--{stage} {share}`."
        )
    elif promotion.status == "PROMOTED":
        replaced = f" (replacing {promotion.model}/{previous})" if previous else ""
        unchecked = "" if promotion.gates else f" The policy sets no gates for {env}."
        message = f"{ref} is now in {env}{replaced}.{unchecked}"
    elif promotion.status == "PENDING_APPROVAL":
        roles = ", ".join(promotion.waiting_for) or "an approver"
        message = f"{ref} passed its gates and waits for approval by {roles} to enter {env}."
    elif promotion.status == "FAILED":
        count = f"{len(failed)} of {len(promotion.gates)}"
        message = f"{ref} may not enter {env}: {count} gates failed."
    else:
        message = f"{ref} will not enter {env}."
    out.print(Text.assemble(status_text(promotion.status), "  ", message))
    if promotion.gates:
        out.print(gate_table(promotion.gates))
    if promotion.approvals:
        out.print(
            table(
                ["user", "role", "decision", "comment", "when"],
                (
                    [a.user, a.role, a.decision, a.comment, format_time(a.at)]
                    for a in promotion.approvals
                ),
                title="Decisions",
            )
        )
    if promotion.status == "PENDING_APPROVAL":
        out.print(f"Approve with: {_approve_command(promotion, project)}")
        out.print("(or reject with `relay models reject`; the version's author cannot approve)")


# -- promote, approve, reject ----------------------------------------------------------------


@models_app.command("promote")
def models_promote(
    ref: RefArgument,
    to: ToOption,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why: kept in the history.")] = "",
    canary: CanaryOption = False,
    shadow: ShadowOption = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Move a version into an environment, if the project's policy gates let it.

    The project's policy (`relay policy show`) decides the outcome:
    PROMOTED: the version now holds the environment.
    PENDING_APPROVAL: the gates passed; the named roles must approve it.
    FAILED: the failing gates are shown with figure and threshold; exit 1.

    With --canary (or --shadow) the version is cleared to serve a share (or a copy) of the
    environment's traffic without holding it, under the policy's canary (shadow) rule.

    Example: relay models promote churn/3 --to production --reason "Q3 release"
    """
    name = project_or_default(project)
    wanted = target(to, canary, shadow)
    with open_cli_backend() as backend:
        previous = None if json_output else _holder(backend, name, ref, to)
        promotion = backend.promote(name, ref, wanted, reason)
    if json_output:
        print_json(promotion)
    else:
        _print_outcome(promotion, name, previous)
    if promotion.status == "FAILED":
        raise typer.Exit(1)


def _decide(ref: str, env: str, decision: str, comment: str, project: str | None, js: bool) -> None:
    name = project_or_default(project)
    with open_cli_backend() as backend:
        previous = None if js else _holder(backend, name, ref, env.partition(":")[0])
        promotion = backend.decide_promotion(name, ref, env, decision, comment)
    if js:
        print_json(promotion)
        return
    _print_outcome(promotion, name, previous)


@models_app.command("approve")
def models_approve(
    ref: RefArgument,
    env: EnvOption,
    comment: CommentOption = "",
    canary: CanaryOption = False,
    shadow: ShadowOption = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Approve a promotion that waits for you (you need a role the policy names; into
    production, the permission only risk_manager holds; never a version you logged).

    Example: relay models approve churn/3 --env production --comment "risk review done"
    """
    _decide(ref, target(env, canary, shadow), "approve", comment, project, json_output)


@models_app.command("reject")
def models_reject(
    ref: RefArgument,
    env: EnvOption,
    comment: CommentOption = "",
    canary: CanaryOption = False,
    shadow: ShadowOption = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Reject a promotion that waits for approval; the version stays where it was.

    Example: relay models reject churn/3 --env production --comment "bias in the south"
    """
    _decide(ref, target(env, canary, shadow), "reject", comment, project, json_output)


# -- history ---------------------------------------------------------------------------------


def _promotion_tree(promotions: Sequence[Promotion]) -> Any:
    from rich.tree import Tree

    tree = Tree(Text("Promotion requests", style="bold"), guide_style="dim")
    for p in promotions:
        node = tree.add(
            Text.assemble(
                (format_time(p.requested_at), "dim"),
                "  ",
                (f"{p.model}/{p.version}", "bold"),
                f" → {p.environment}  ",
                status_text(p.status),
                f"  requested by {p.requested_by}",
            )
        )
        if p.reason:
            node.add(Text(f"reason: {p.reason}", style="italic"))
        for gate in p.gates:
            node.add(_gate_line(gate))
        for a in p.approvals:
            mark = _PASS if a.decision == "approve" else _FAIL
            said = f': "{a.comment}"' if a.comment else ""
            verb = "approved" if a.decision == "approve" else "rejected"
            node.add(
                Text.assemble(mark, f" {verb} by {a.user} ({a.role}) {format_time(a.at)}{said}")
            )
        if p.status == "PENDING_APPROVAL":
            roles = f" by {', '.join(p.waiting_for)}" if p.waiting_for else ""
            node.add(Text(f"… waiting for approval{roles}", style="yellow"))
    return tree


def _held_for(event: AliasEvent) -> str:
    from datetime import UTC, datetime

    end = event.ended_at or datetime.now(UTC)
    return format_duration((end - event.assigned_at).total_seconds())


def _in_order(events: Sequence[AliasEvent]) -> list[AliasEvent]:
    """Events by environment (development, staging, production), then oldest first."""
    from relayml.domain.models import ENVIRONMENTS

    rank = {env: index for index, env in enumerate(ENVIRONMENTS)}
    return sorted(events, key=lambda e: (rank.get(e.alias, len(rank)), e.assigned_at))


def _interval_table(events: Sequence[AliasEvent]) -> Table:
    # who moved a version out is who moved the next one in: one "moved in by" column says both
    result = plain_table(
        ["environment", "version", "from", "to", "held", "moved in by", "reason"],
        title="Environments over time",
    )
    for column in result.columns[:5]:  # names, times and durations stay on one line
        column.no_wrap = True
    for e in _in_order(events):
        result.add_row(
            e.alias,
            Text(f"{e.model}/{e.version}", style="bold" if e.ended_at is None else ""),
            format_time(e.assigned_at),
            format_time(e.ended_at) if e.ended_at else Text("now", style="bold green"),
            _held_for(e),
            e.assigned_by,
            e.reason,
        )
    return result


@models_app.command("history")
def models_history(
    name: NameArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """Show a model's life: its promotion requests and who held each environment when.

    Each request: when, who, version, environment, outcome, every gate with
    its figure and threshold, and each approval or rejection with its comment.
    Then which version held each environment, from when to when, moved in by
    whom, and why.

    Example: relay models history churn -p churn
    """
    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        history = backend.model_history(project_name, name)
    if json_output:
        print_json(history)
        return
    out = console()
    now = [e for e in _in_order(history.aliases) if e.ended_at is None]
    holders = " · ".join(f"{e.alias}: {e.model}/{e.version}" for e in now) or "no environment"
    title = Text.assemble(("History of ", "bold"), (name, "bold cyan"))
    out.print(title.append(f" (project {project_name})"))
    out.print(f"Now: {holders}")
    if not history.promotions and not history.aliases:
        out.print(
            f"{name} has not been promoted yet. Promote a version with "
            f"`relay models promote {name}/<version> --to staging`."
        )
        return
    if history.promotions:
        out.print(_promotion_tree(history.promotions))
    if history.aliases:
        out.print(_interval_table(history.aliases))
