"""`relay deploy`: set what an environment serves (single, canary, A/B, shadow), see A/B results,
ship the winner, list deployments and their history.

``relay deploy churn --env production`` is the default command (``relay deploy set``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_number,
    format_time,
    open_cli_backend,
    print_json,
    project_or_default,
    settings,
    table,
)
from relayml.cli.deploy_k8s import EmitOption, K8sFlags, emit_k8s
from relayml.cli.promotions import EnvOption

if TYPE_CHECKING:
    from typer._click.core import Context

    from relayml.domain.serving import Deployment, Variant

__all__ = ["deploy_app"]


class _DefaultToSet(TyperGroup):
    """A group whose first argument, when it is not a subcommand, goes to `set`."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["set", *args]
        return super().parse_args(ctx, args)


deploy_app = typer.Typer(
    cls=_DefaultToSet,
    no_args_is_help=True,
    help="What an environment serves: one version, a canary, an A/B test or a shadow. "
    "A running `relay serve churn@production` picks every change up without a restart.\n\n"
    "Examples:\n\n"
    "relay deploy churn --env production\n\n"
    "relay deploy churn --env production --canary churn/4:10\n\n"
    "relay deploy churn --env production --ab churn/3:50,churn/4:50 --sticky-key customer_id\n\n"
    "relay deploy churn --env production --shadow churn/4\n\n"
    "relay deploy results churn --env production\n\n"
    "relay deploy promote-winner churn --env production",
)

ModelArgument = Annotated[str, typer.Argument(help="The registered model, e.g. churn.")]


def _variant_text(variant: Variant, holder: int | None = None) -> str:
    version = f"v{variant.version}" if variant.version is not None else "the alias's version"
    if variant.version is None and holder is not None:
        version = f"v{holder} (the alias)"
    if variant.mode == "shadow":
        return f"shadow {version}"
    return f"{version} {format_number(variant.weight)}%"


def _describe(deployment: Deployment, holder: int | None) -> str:
    parts = ", ".join(_variant_text(v, holder) for v in deployment.variants)
    sticky = f", sticky on {deployment.sticky_key}" if deployment.sticky_key else ""
    return (
        f"{deployment.model} in {deployment.environment}: {deployment.strategy} "
        f"(revision {deployment.revision}): {parts}{sticky}"
    )


@deploy_app.command("set")
def set_deployment(
    model: ModelArgument,
    env: EnvOption,
    version: Annotated[
        int | None,
        typer.Option(
            "--version", "-v", min=1, help="Pin the live version (default: follow the alias)."
        ),
    ] = None,
    canary: Annotated[
        str | None, typer.Option(help="A canary and its share: churn/4:10.", show_default=False)
    ] = None,
    ab: Annotated[
        str | None,
        typer.Option(help="A/B variants and shares: churn/3:50,churn/4:50.", show_default=False),
    ] = None,
    shadow: Annotated[
        str | None,
        typer.Option(help="Shadow versions: churn/4 (or churn/4,churn/5).", show_default=False),
    ] = None,
    sticky_key: Annotated[
        str | None,
        typer.Option(help="Request field that keeps a caller on one variant, e.g. customer_id."),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why: stored with it.")] = "",
    project: ProjectOption = None,
    json_output: JsonOption = False,
    emit: EmitOption = None,
    out: K8sFlags.OutOption = None,
    image: K8sFlags.ImageOption = None,
    server_url: K8sFlags.ServerUrlOption = None,
    token_secret: K8sFlags.SecretOption = "relay-token",
    replicas: K8sFlags.ReplicasOption = 1,
    namespace: K8sFlags.NamespaceOption = None,
    artifacts_url: K8sFlags.ArtifactsOption = None,
    cpu_request: K8sFlags.CpuRequest = "250m",
    memory_request: K8sFlags.MemoryRequest = "512Mi",
    cpu_limit: K8sFlags.CpuLimit = "1",
    memory_limit: K8sFlags.MemoryLimit = "1Gi",
) -> None:
    """Set what an environment serves (a new revision, stored with who and when).

    The version that holds the environment (`relay models list`) always serves it and follows
    its alias. --version N of another version first promotes it through the policy (its gates
    and approvals); a canary, A/B or shadow version needs the policy's canary or shadow rule.
    With --emit k8s nothing changes: Kubernetes manifests that serve it are written instead.
    """
    from relayml.domain.serving import plan_variants
    from relayml.errors import InvalidInput

    if emit is not None:
        changes = {"version": version, "canary": canary, "ab": ab, "shadow": shadow,
                   "sticky_key": sticky_key, "reason": reason, "json": json_output}  # fmt: skip
        emit_k8s(
            emit, project, model, env, changes, out,
            image=image, server_url=server_url, token_secret=token_secret, replicas=replicas,
            namespace=namespace, artifacts_url=artifacts_url, cpu_request=cpu_request,
            memory_request=memory_request, cpu_limit=cpu_limit, memory_limit=memory_limit,
        )  # fmt: skip
        return

    chosen = [name for name, value in (("canary", canary), ("ab", ab), ("shadow", shadow)) if value]
    if len(chosen) > 1:
        raise InvalidInput(f"choose one strategy; got --{' and --'.join(chosen)}.")
    strategy: Any = chosen[0] if chosen else "single"
    variants = plan_variants(model, strategy, version=version, canary=canary, ab=ab, shadow=shadow)
    with open_cli_backend() as backend:
        deployment = backend.deploy(
            project_or_default(project),
            model,
            env,
            strategy,
            variants,
            sticky_key=sticky_key,
            reason=reason,
        )
        holder = backend.get_model(deployment.project, model).aliases.get(env)
    if json_output:
        print_json(deployment.model_dump(mode="json"))
        return
    console().print(_describe(deployment, holder))


@deploy_app.command("list")
def list_deployments(project: ProjectOption = None, json_output: JsonOption = False) -> None:
    """Every deployment of the project, with its variants."""
    with open_cli_backend() as backend:
        name = project_or_default(project)
        found = backend.list_deployments(name)
        holders = {
            (d.model, d.environment): backend.get_model(name, d.model).aliases.get(d.environment)
            for d in found
        }
    if json_output:
        print_json([d.model_dump(mode="json") for d in found])
        return
    if not found:
        console().print("No deployments yet. Create one with `relay deploy MODEL --env ENV`.")
        return
    rows = [
        [
            d.model,
            d.environment,
            d.strategy,
            ", ".join(_variant_text(v, holders[d.model, d.environment]) for v in d.variants),
            str(d.revision),
            d.updated_by,
            format_time(d.updated_at),
        ]
        for d in found
    ]
    headers = ["model", "environment", "strategy", "variants", "revision", "by", "when"]
    console().print(table(headers, rows))


@deploy_app.command("history")
def history(
    model: ModelArgument,
    env: EnvOption,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Every revision of a deployment: who changed what, when and why."""
    with open_cli_backend() as backend:
        revisions = backend.deployment_history(project_or_default(project), model, env)
    if json_output:
        print_json([r.model_dump(mode="json") for r in revisions])
        return
    rows = [
        [
            str(r.revision),
            r.strategy,
            ", ".join(_variant_text(v) for v in r.variants),
            r.created_by,
            format_time(r.created_at),
            r.reason,
        ]
        for r in revisions
    ]
    console().print(table(["revision", "strategy", "variants", "by", "when", "reason"], rows))


def _results(model: str, env: str, project: str | None, metric: str | None) -> Any:
    from relayml.backend import prediction_logs
    from relayml.deployments.abresults import ab_results

    logs = prediction_logs(settings())
    with open_cli_backend() as backend:
        return ab_results(backend, logs, project_or_default(project), model, env, metric=metric)


MetricOption = Annotated[
    str | None,
    typer.Option(help="Metric that decides: accuracy (default), mae, or a KPI's name."),
]


@deploy_app.command("results")
def results(
    model: ModelArgument,
    env: EnvOption,
    metric: MetricOption = None,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """A/B results: traffic, latency, metrics and KPIs per variant, tests and a verdict."""
    report = _results(model, env, project, metric)
    if json_output:
        print_json(report.to_json())
        return
    out = console()
    since = f" since {format_time(report.since)}" if report.since else ""
    out.print(Text.assemble((f"{report.model} in {report.environment}", "bold"), since))
    figures = sorted({k for v in report.variants for k in (*v.metrics, *v.kpis)})
    headers = ["variant", "mode", "share", "predictions", "p50 ms", "p99 ms", "outcomes", *figures]
    rows = []
    for v in report.variants:
        values = {**v.metrics, **v.kpis}
        rows.append(
            [
                v.name,
                v.mode,
                f"{v.share:.0%}" if v.mode == "live" else "copy",
                str(v.predictions),
                format_number(v.latency_p50_ms),
                format_number(v.latency_p99_ms),
                str(v.outcomes),
                *(format_number(values.get(f)) for f in figures),
            ]
        )
    out.print(table(headers, rows))
    for comparison in report.comparisons:
        out.print(f"• {comparison.verdict}")
    out.print(Text.assemble(("Verdict:", "bold"), f" {report.verdict}"))


@deploy_app.command("promote-winner")
def promote_winner(
    model: ModelArgument,
    env: EnvOption,
    metric: MetricOption = None,
    variant: Annotated[
        int | None,
        typer.Option(
            "--version", "-v", min=1, help="Ship this version whatever the test says (a choice)."
        ),
    ] = None,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Move the environment's alias to the A/B winner and make it the only variant (the
    deployment then follows the alias)."""
    from relayml.backend import prediction_logs
    from relayml.deployments.promote import promote_winner as ship

    logs = prediction_logs(settings())
    with open_cli_backend() as backend:
        shipped = ship(backend, logs, project_or_default(project), model, env, metric, variant)
    if json_output:
        print_json(shipped.to_json())
        return
    console().print(shipped.message)
