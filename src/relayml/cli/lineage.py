"""`relay lineage KIND KEY`: what an entity came from and what came of it, as a tree."""

from __future__ import annotations

from collections import defaultdict
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text
from rich.tree import Tree

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    open_cli_backend,
    print_json,
    project_or_default,
    resolve_run_id,
    truncate,
)

if TYPE_CHECKING:
    from relayml.domain.lineage import LineageEdge, LineageGraph, LineageNode

__all__ = ["lineage"]

_MAX_CHILDREN = 50  # per node in the tree; --json has them all


class Direction(StrEnum):
    """Which way to walk from the node."""

    both = "both"
    upstream = "upstream"
    downstream = "downstream"


KindArgument = Annotated[
    str,
    typer.Argument(
        help="What the entity is: dataset_version, run, model_version, pipeline_run, step_run, "
        "step_output, source, or OpenLineage's dataset, job and job_run.",
        show_default=False,
    ),
]
KeyArgument = Annotated[
    str,
    typer.Argument(
        help="Its key. dataset_version: project/name@version (name@version takes --project); "
        "run: the run id or a unique prefix; model_version: project/name/version (name/version "
        "takes --project); source: a URI; dataset and job: namespace/name; job_run: the runId.",
        show_default=False,
    ),
]


def _full_key(kind: str, key: str, project: str | None) -> str:
    """Keys that leave out the project get it from --project (or the project setting)."""
    if kind == "dataset_version" and "/" not in key:
        return f"{project_or_default(project)}/{key}"
    if kind == "model_version" and key.count("/") == 1:
        return f"{project_or_default(project)}/{key}"
    return key


def _name(node: LineageNode) -> Text:
    text = Text.assemble((node.kind, "bold"), " ", truncate(node.key, 120))
    if node.label and node.label not in node.key:
        text.append(f"  {truncate(node.label, 60)}", style="dim")
    state = node.facets.get("state") if node.kind == "job_run" else None
    if isinstance(state, str):
        text.append(f"  [{state}]", style="red" if state in ("FAIL", "ABORT") else "green")
    return text


def _branch(
    tree: Tree,
    start: tuple[str, str],
    links: dict[tuple[str, str], list[LineageEdge]],
    nodes: dict[tuple[str, str], LineageNode],
    upstream: bool,
) -> int:
    """Add the nodes reached from start to tree, each expanded once; returns how many."""
    seen = {start}
    count = 0
    stack: list[tuple[Tree, tuple[str, str]]] = [(tree, start)]
    while stack:
        parent, ident = stack.pop()
        edges = links.get(ident, [])
        pending: list[tuple[Tree, tuple[str, str]]] = []
        for index, edge in enumerate(edges):
            if index == _MAX_CHILDREN:
                parent.add(Text(f"… and {len(edges) - index} more (see --json)", style="dim"))
                break
            other = (edge.src_kind, edge.src_key) if upstream else (edge.dst_kind, edge.dst_key)
            node = nodes.get(other)
            label = Text(("◀ " if upstream else "▶ ") + edge.relation + "  ", style="cyan")
            label.append_text(_name(node) if node else Text(f"{other[0]} {other[1]}"))
            count += 1
            if other in seen:
                label.append("  (shown above)", style="dim")
                parent.add(label)
                continue
            seen.add(other)
            pending.append((parent.add(label), other))
        stack.extend(reversed(pending))
    return count


def render(graph: LineageGraph, direction: str) -> Tree:
    """The graph as a Rich tree: the root, then its upstream and downstream branches."""
    nodes = {(n.kind, n.key): n for n in graph.nodes}
    into: dict[tuple[str, str], list[LineageEdge]] = defaultdict(list)
    out: dict[tuple[str, str], list[LineageEdge]] = defaultdict(list)
    for edge in graph.edges:
        into[(edge.dst_kind, edge.dst_key)].append(edge)
        out[(edge.src_kind, edge.src_key)].append(edge)
    root = (graph.root.kind, graph.root.key)
    tree = Tree(_name(graph.root))
    for name, links, upstream in (("upstream", into, True), ("downstream", out, False)):
        if direction not in (name, "both"):
            continue
        branch = tree.add(Text(name, style="bold magenta"))
        if not _branch(branch, root, links, nodes, upstream):
            branch.add(Text(f"nothing recorded within depth {graph.depth}", style="dim"))
    return tree


def lineage(
    kind: KindArgument,
    key: KeyArgument,
    depth: Annotated[
        int, typer.Option("--depth", "-d", min=1, help="How many edges to follow each way.")
    ] = 3,
    direction: Annotated[
        Direction, typer.Option("--direction", help="Which way to walk from the entity.")
    ] = Direction.both,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """What an entity came from (upstream) and what came of it (downstream), as a tree.

    Examples:

      relay lineage dataset_version customers@3

      relay lineage run 3f2a9c --json

      relay lineage model_version churn/2 --direction upstream --depth 10
    """
    key = _full_key(kind, key, project)
    with open_cli_backend() as backend:
        if kind == "run":
            key = resolve_run_id(backend, key)
        graph = backend.lineage(kind, key, depth=depth, direction=direction.value)
    if json_output:
        print_json(graph.model_dump(mode="json"))
        return
    out = console()
    out.print(render(graph, direction.value))
    if graph.truncated:
        out.print(
            Text(
                f"Only the nearest {len(graph.nodes)} nodes are shown: the graph is larger "
                "within this depth. Use a smaller --depth or --direction.",
                style="yellow",
            )
        )
