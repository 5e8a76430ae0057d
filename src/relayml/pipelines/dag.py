"""Steps and the DAG a pipeline builds from its data dependencies.

A pipeline function is called once, inside :func:`build`, with its parameters. Each step it calls
returns a :class:`StepOutput` handle instead of a value; the handles a step receives as arguments
(at any depth of lists, tuples and dicts) are its dependencies. What the pipeline returns (a handle,
or a dict of names to handles) are the pipeline's named outputs.

Checks, each an :class:`~relayml.errors.InvalidInput` naming the step:
- a handle that does not belong to the DAG being built (kept from another build, or used before its
  step was called in this one);
- a *disconnected* step: one whose outputs no step uses and the pipeline does not return. Its work
  would be thrown away, which is nearly always a mistake; return it to keep it;
- arguments that are neither handles nor JSON-like values (they could not be part of a cache key);
- a cycle (cannot arise from handles, checked all the same by :meth:`Dag.order`).
Steps called more than once get suffixed names: ``clean``, ``clean_2``, ``clean_3``.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from relayml.errors import InvalidInput
from relayml.pipelines.keys import canonical_json, code_hash

__all__ = [
    "Dag",
    "InputRef",
    "Node",
    "Step",
    "StepOutput",
    "build",
    "replace_refs",
    "step",
]

DEFAULT_OUTPUT = "output"


class _Builder:
    """The DAG under construction while a pipeline function runs."""

    def __init__(self, dag: Dag) -> None:
        self.dag = dag


_building: contextvars.ContextVar[_Builder | None] = contextvars.ContextVar(
    "relay_pipeline_builder", default=None
)


@dataclass(frozen=True)
class InputRef:
    """In a node's arguments: the value of output `output` of node `node`."""

    node: str
    output: str


class StepOutput:
    """A handle on a step's output while a pipeline is being defined (not the value)."""

    __slots__ = ("_builder", "_ref")

    def __init__(self, builder: _Builder, ref: InputRef) -> None:
        self._builder = builder
        self._ref = ref

    @property
    def ref(self) -> InputRef:
        """Which node and output this handle stands for."""
        return self._ref

    def __repr__(self) -> str:
        return f"<StepOutput {self._ref.node}.{self._ref.output}>"

    def _misuse(self) -> InvalidInput:
        return InvalidInput(
            f"{self!r} is a handle on a step's output, not its value: inside a pipeline "
            "steps only describe the DAG. Pass it to another step (which receives the value) "
            "or return it from the pipeline."
        )

    def __bool__(self) -> bool:
        raise self._misuse()

    def __iter__(self) -> Iterator[Any]:
        raise self._misuse()

    def __len__(self) -> int:
        raise self._misuse()

    def __getitem__(self, key: Any) -> Any:
        raise self._misuse()


class Step:
    """A function marked with @relay.step: called inside a pipeline it adds a node to the DAG;
    called anywhere else it is the plain function."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        retries: int = 0,
        backoff: float = 1.0,
        cache: bool = True,
        outputs: Sequence[str] | None = None,
        version: str | int | None = None,
    ) -> None:
        if not callable(fn) or inspect.isclass(fn):
            raise InvalidInput(f"@relay.step decorates a function, not {fn!r}.")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInput(
                f"retries of step {fn.__name__!r} must be 0 or more, not {retries!r}."
            )
        if not isinstance(backoff, int | float) or backoff < 0:
            raise InvalidInput(f"backoff of step {fn.__name__!r} must be >= 0 seconds.")
        names = tuple(outputs) if outputs is not None else (DEFAULT_OUTPUT,)
        if (
            not names
            or len(set(names)) != len(names)
            or not all(isinstance(n, str) and n.isidentifier() for n in names)
        ):
            raise InvalidInput(
                f"outputs of step {fn.__name__!r} must be distinct identifiers, got {outputs!r}."
            )
        self.fn = fn
        self.name = name or fn.__name__
        self.retries = retries
        self.backoff = float(backoff)
        self.cache = cache
        self.outputs = names
        self.version = None if version is None else str(version)
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)

    @functools.cached_property
    def code_hash(self) -> str:
        """sha256 of the normalised source code (computed once)."""
        return code_hash(self.fn, self.version)

    def __repr__(self) -> str:
        return f"<relay step {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = _building.get()
        if builder is None:
            return self.fn(*args, **kwargs)
        return builder.dag.add_call(builder, self, args, kwargs)


@overload
def step(fn: Callable[..., Any], /) -> Step: ...
@overload
def step(
    *,
    name: str | None = None,
    retries: int = 0,
    backoff: float = 1.0,
    cache: bool = True,
    outputs: Sequence[str] | None = None,
    version: str | int | None = None,
) -> Callable[[Callable[..., Any]], Step]: ...
def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int = 0,
    backoff: float = 1.0,
    cache: bool = True,
    outputs: Sequence[str] | None = None,
    version: str | int | None = None,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Mark a function as a pipeline step (cached, retried `retries` times, recorded)."""

    def wrap(func: Callable[..., Any]) -> Step:
        return Step(
            func,
            name=name,
            retries=retries,
            backoff=backoff,
            cache=cache,
            outputs=outputs,
            version=version,
        )

    return wrap(fn) if fn is not None else wrap


@dataclass
class Node:
    """One call of a step in the DAG: its unique name, the step, and its bound arguments."""

    name: str
    step: Step
    arguments: dict[str, Any]  # handles replaced by InputRef
    upstream: tuple[str, ...]  # nodes it reads from, in first-use order
    exported: dict[str, list[str]] = field(default_factory=dict)  # output -> pipeline names


def replace_refs(value: Any, replace: Callable[[InputRef], Any]) -> Any:
    """The value with every InputRef in it (in lists, tuples, dicts) replaced."""
    if isinstance(value, InputRef):
        return replace(value)
    if isinstance(value, list):
        return [replace_refs(v, replace) for v in value]
    if isinstance(value, tuple):
        return tuple(replace_refs(v, replace) for v in value)
    if isinstance(value, dict):
        return {k: replace_refs(v, replace) for k, v in value.items()}
    return value


class Dag:
    """The nodes of a pipeline, in the order they were defined, and its named outputs."""

    def __init__(self, pipeline: str) -> None:
        self.pipeline = pipeline
        self.nodes: dict[str, Node] = {}
        self.outputs: dict[str, InputRef] = {}

    def _unique(self, base: str) -> str:
        if base not in self.nodes:
            return base
        n = 2
        while f"{base}_{n}" in self.nodes:
            n += 1
        return f"{base}_{n}"

    def _unwrap(self, builder: _Builder, value: Any, node: str, path: str, found: list[str]) -> Any:
        if isinstance(value, StepOutput):
            ref = value.ref
            if value._builder is not builder or ref.node not in self.nodes:
                raise InvalidInput(
                    f"step {node!r} uses the output of step {ref.node!r} (argument {path!r}) "
                    f"before that step is defined in pipeline {self.pipeline}: a step output "
                    "can only be used inside the pipeline call that made it."
                )
            if ref.node not in found:
                found.append(ref.node)
            return ref
        if isinstance(value, list | tuple):
            items = [
                self._unwrap(builder, v, node, f"{path}[{i}]", found) for i, v in enumerate(value)
            ]
            return items if isinstance(value, list) else tuple(items)
        if isinstance(value, dict):
            return {
                k: self._unwrap(builder, v, node, f"{path}[{k!r}]", found) for k, v in value.items()
            }
        if isinstance(value, Step):
            raise InvalidInput(
                f"step {node!r} got the step {value.name!r} itself as argument {path!r}; "
                f"call it ({value.name}(...)) to pass its output."
            )
        try:
            canonical_json(value)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"argument {path!r} of step {node!r} is a {type(value).__qualname__}, which "
                "cannot be part of a cache key: pass JSON-like values (str, numbers, bools, "
                "None, lists, dicts, dates, paths) or the output of another step."
            ) from None
        return value

    def add_call(
        self, builder: _Builder, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> StepOutput | tuple[StepOutput, ...]:
        """Add a node for a call of `step`; the handle(s) on its output(s)."""
        name = self._unique(step.name)
        try:
            bound = step.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(f"step {name!r} of pipeline {self.pipeline}: {exc}.") from None
        bound.apply_defaults()
        upstream: list[str] = []
        arguments = {
            key: self._unwrap(builder, value, name, key, upstream)
            for key, value in bound.arguments.items()
        }
        self.nodes[name] = Node(name, step, arguments, tuple(upstream))
        handles = tuple(StepOutput(builder, InputRef(name, out)) for out in step.outputs)
        return handles if len(handles) > 1 else handles[0]

    def downstream(self) -> dict[str, list[str]]:
        """For each node, the nodes that read its outputs."""
        result: dict[str, list[str]] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            for up in node.upstream:
                result[up].append(node.name)
        return result

    def order(self) -> list[Node]:
        """The nodes in a topological order (definition order among equals); cycles refused."""
        indegree = {name: len(node.upstream) for name, node in self.nodes.items()}
        below = self.downstream()
        ready = [name for name, n in indegree.items() if n == 0]
        result: list[Node] = []
        while ready:
            name = ready.pop(0)
            result.append(self.nodes[name])
            for child in below[name]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        if len(result) != len(self.nodes):
            stuck = sorted(n for n, d in indegree.items() if d > 0)
            raise InvalidInput(
                f"pipeline {self.pipeline} has a cycle through steps {', '.join(stuck)}: "
                "a step cannot depend on its own output."
            )
        return result

    def check(self) -> None:
        """Refuse an empty pipeline and disconnected steps (see the module docstring)."""
        if not self.nodes:
            raise InvalidInput(
                f"pipeline {self.pipeline} calls no step: call functions marked @relay.step "
                "inside it and return their outputs."
            )
        below = self.downstream()
        exported = {ref.node for ref in self.outputs.values()}
        lost = [name for name in self.nodes if not below[name] and name not in exported]
        if lost:
            raise InvalidInput(
                f"pipeline {self.pipeline} has disconnected steps: {', '.join(lost)} "
                f"({'its' if len(lost) == 1 else 'their'} output is used by no other step and "
                "not returned by the pipeline). Return it, e.g. "
                f"return {{{lost[0]!r}: ...}}, or remove the call."
            )
        self.order()

    def edges(self) -> list[tuple[str, str, str]]:
        """(upstream node, output name, downstream node) for every data dependency."""
        result: list[tuple[str, str, str]] = []
        for node in self.nodes.values():
            seen: set[InputRef] = set()

            def note(ref: InputRef, node: Node = node, seen: set[InputRef] = seen) -> InputRef:
                if ref not in seen:
                    seen.add(ref)
                    result.append((ref.node, ref.output, node.name))
                return ref

            replace_refs(node.arguments, note)
        return result


def _collect_outputs(dag: Dag, builder: _Builder, returned: Any) -> None:
    if returned is None:
        return
    items: Mapping[str, Any]
    if isinstance(returned, StepOutput):
        items = {DEFAULT_OUTPUT: returned}
    elif isinstance(returned, Mapping):
        items = returned
    else:
        raise InvalidInput(
            f"pipeline {dag.pipeline} returned a {type(returned).__qualname__}; return a step's "
            'output or a dict of names to step outputs, e.g. return {"table": table}.'
        )
    for key, handle in items.items():
        if not isinstance(key, str) or not key:
            raise InvalidInput(
                f"pipeline {dag.pipeline}: output names must be strings, not {key!r}."
            )
        if not isinstance(handle, StepOutput):
            raise InvalidInput(
                f"pipeline {dag.pipeline} returns {type(handle).__qualname__} as output {key!r}; "
                "a pipeline output must be the output of a step."
            )
        if handle._builder is not builder or handle.ref.node not in dag.nodes:
            raise InvalidInput(
                f"pipeline {dag.pipeline} returns output {key!r} from step {handle.ref.node!r}, "
                "which was not called in this pipeline."
            )
        dag.outputs[key] = handle.ref
        node = dag.nodes[handle.ref.node]
        node.exported.setdefault(handle.ref.output, []).append(key)


def build(fn: Callable[..., Any], params: Mapping[str, Any], name: str) -> Dag:
    """Call the pipeline function once with its params and return the checked DAG."""
    if _building.get() is not None:
        raise InvalidInput(
            f"pipeline {name} was called while another pipeline was being defined; "
            "pipelines do not nest: call its steps directly instead."
        )
    dag = Dag(name)
    builder = _Builder(dag)
    token = _building.set(builder)
    try:
        returned = fn(**params)
    finally:
        _building.reset(token)
    _collect_outputs(dag, builder, returned)
    dag.check()
    return dag
