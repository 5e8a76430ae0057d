"""The DAG a pipeline builds from data dependencies, its checks, code hashes and cache keys."""

from __future__ import annotations

import linecache
from typing import Any

import pytest

from relayml.errors import InvalidInput
from relayml.pipelines import pipeline, step
from relayml.pipelines.dag import Dag, InputRef, Node, Step
from relayml.pipelines.execute import StepResult, StepTask, cache_key
from relayml.pipelines.executors import resolve_executor
from relayml.pipelines.keys import code_hash


@step
def load(source: str) -> list[int]:
    return [1, 2, 3, int(source == "x")]


@step(retries=2, backoff=0.5)
def clean(raw: list[int], min_age: int = 18) -> list[int]:
    return [r for r in raw if r >= min_age]


@step
def merge(left: list[int], right: list[int]) -> list[int]:
    return left + right


@step(outputs=("train", "test"))
def split(rows: list[int]) -> tuple[list[int], list[int]]:
    return rows[:2], rows[2:]


@step
def total(parts: dict[str, Any]) -> int:
    return sum(sum(p) for p in parts["items"])


def test_the_dag_follows_the_data_and_names_the_outputs() -> None:
    @pipeline
    def churn(source: str = "customers.csv") -> Any:
        raw = load(source)
        table = clean(raw, min_age=21)
        return {"table": table}

    dag = churn.build(source="x.csv")
    assert list(dag.nodes) == ["load", "clean"]
    assert dag.nodes["clean"].upstream == ("load",)
    assert dag.nodes["clean"].arguments == {"raw": InputRef("load", "output"), "min_age": 21}
    assert dag.nodes["load"].arguments == {"source": "x.csv"}
    assert dag.outputs == {"table": InputRef("clean", "output")}
    assert dag.nodes["clean"].exported == {"output": ["table"]}
    assert dag.edges() == [("load", "output", "clean")]
    assert [n.name for n in dag.order()] == ["load", "clean"]
    assert dag.nodes["clean"].step.retries == 2 and dag.nodes["clean"].step.backoff == 0.5
    assert churn.name.endswith(
        ":test_the_dag_follows_the_data_and_names_the_outputs.<locals>.churn"
    )


def test_repeated_steps_get_suffixes_and_handles_work_inside_containers() -> None:
    @pipeline(name="twice")
    def twice() -> Any:
        a = clean(load("a"))
        b = clean(load("b"), min_age=0)
        both = merge(a, b)
        train, test = split(both)
        return {"total": total({"items": [train, test]}), "both": both}

    dag = twice.build()
    assert list(dag.nodes) == ["load", "clean", "load_2", "clean_2", "merge", "split", "total"]
    assert dag.nodes["clean_2"].upstream == ("load_2",)
    assert dag.nodes["total"].arguments == {
        "parts": {"items": [InputRef("split", "train"), InputRef("split", "test")]}
    }
    assert dag.nodes["total"].upstream == ("split",)
    assert ("split", "test", "total") in dag.edges() and ("split", "train", "total") in dag.edges()
    assert set(dag.outputs) == {"total", "both"}


def test_a_step_called_outside_a_pipeline_is_the_plain_function() -> None:
    assert clean([1, 30, 50], min_age=21) == [30, 50]
    assert isinstance(clean, Step) and clean.__name__ == "clean"

    @pipeline
    def plain() -> Any:
        return {"rows": clean(load("x"), min_age=1)}

    assert plain() == {"rows": [1, 2, 3, 1]}  # called directly: steps run as functions


def test_a_disconnected_step_is_refused_by_name() -> None:
    @pipeline
    def leaky() -> Any:
        raw = load("x")
        clean(raw)  # result thrown away
        return {"raw": raw}

    with pytest.raises(InvalidInput, match=r"disconnected steps: clean \(its output is used"):
        leaky.build()


def test_an_output_from_elsewhere_is_used_before_it_is_defined() -> None:
    kept: list[Any] = []

    @pipeline
    def first() -> Any:
        raw = load("x")
        kept.append(raw)
        return raw

    first.build()

    @pipeline
    def second() -> Any:
        return clean(kept[0])

    with pytest.raises(InvalidInput, match=r"uses the output of step 'load'.*before that step"):
        second.build()


def test_bad_pipelines_say_what_is_wrong() -> None:
    @pipeline
    def empty() -> Any:
        return None

    with pytest.raises(InvalidInput, match="calls no step"):
        empty.build()

    @pipeline
    def returns_value() -> Any:
        load("x")
        return 42

    with pytest.raises(InvalidInput, match="returned a int"):
        returns_value.build()

    @pipeline
    def returns_constant() -> Any:
        return {"a": load("x"), "b": 3}

    with pytest.raises(InvalidInput, match="returns int as output 'b'"):
        returns_constant.build()

    @pipeline
    def unhashable_argument() -> Any:
        return load(object())

    with pytest.raises(InvalidInput, match="argument 'source' of step 'load' is a object"):
        unhashable_argument.build()

    @pipeline
    def branches_on_a_handle() -> Any:
        raw = load("x")
        if raw:
            return raw
        return raw

    with pytest.raises(InvalidInput, match="is a handle on a step's output, not its value"):
        branches_on_a_handle.build()

    @pipeline
    def wrong_arguments() -> Any:
        return clean()

    with pytest.raises(InvalidInput, match=r"step 'clean' of pipeline .*missing a required"):
        wrong_arguments.build()

    @pipeline
    def passes_the_step() -> Any:
        return clean(load)

    with pytest.raises(InvalidInput, match=r"got the step 'load' itself.*call it"):
        passes_the_step.build()


def test_pipeline_params_are_checked() -> None:
    @pipeline
    def churn(source: str, limit: int = 10) -> Any:
        return load(source)

    assert churn.bind({"source": "a"}) == {"source": "a", "limit": 10}
    with pytest.raises(InvalidInput, match=r"no parameter 'sorce' \(it takes: source, limit\)"):
        churn.bind({"sorce": "a"})
    with pytest.raises(InvalidInput, match="missing a required argument: 'source'"):
        churn.bind({})
    with pytest.raises(InvalidInput, match=r"parameter 'source' .* must be JSON-like"):
        churn.bind({"source": object()})


def test_step_options_are_checked() -> None:
    def f() -> None:
        return None

    with pytest.raises(InvalidInput, match="retries of step 'f' must be 0 or more"):
        step(retries=-1)(f)
    with pytest.raises(InvalidInput, match="backoff of step 'f' must be >= 0"):
        step(backoff=-1)(f)
    with pytest.raises(InvalidInput, match="outputs of step"):
        step(outputs=("a", "a"))(load.fn)
    with pytest.raises(InvalidInput, match="decorates a function"):
        step(int)


def test_a_cycle_is_refused_naming_its_steps() -> None:
    dag = Dag("loop")
    dag.nodes["a"] = Node("a", load, {"source": InputRef("b", "output")}, ("b",))
    dag.nodes["b"] = Node("b", clean, {"raw": InputRef("a", "output")}, ("a",))
    dag.nodes["c"] = Node("c", load, {"source": "x"}, ())
    with pytest.raises(InvalidInput, match="has a cycle through steps a, b"):
        dag.order()


def _function_from(source: str, filename: str) -> Any:
    """A function compiled from source that inspect.getsource can read back (no file)."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"decorated": lambda fn: fn}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["f"]


def test_the_code_hash_ignores_layout_comments_and_docstrings_not_code() -> None:
    base = _function_from("def f(x):\n    return x + 1\n", "<relay-test-a>")
    same = _function_from(
        '@decorated\ndef f(x):  # note\n    """Doc."""\n\n    return (x +\n        1)\n',
        "<relay-test-b>",
    )
    other = _function_from("def f(x):\n    return x + 2\n", "<relay-test-c>")
    assert code_hash(base) == code_hash(same)
    assert code_hash(base) != code_hash(other)
    assert code_hash(base, "2") != code_hash(base)
    assert len(code_hash(lambda x: x)) == 64


def _task(arguments: dict[str, Any], code: str = "c" * 64) -> StepTask:
    return StepTask("clean", clean.fn, code, arguments, ("output",), 0, 0.0, True, ("load",))


def test_the_cache_key_covers_code_inputs_and_params() -> None:
    upstream = {"load": StepResult("load", "FINISHED", outputs={"output": {"sha256": "1" * 64}})}
    changed = {"load": StepResult("load", "FINISHED", outputs={"output": {"sha256": "2" * 64}})}
    args = {"raw": InputRef("load", "output"), "min_age": 21}
    key = cache_key(_task(args), upstream)
    assert key == cache_key(_task(dict(reversed(list(args.items())))), upstream)
    assert key != cache_key(_task({**args, "min_age": 22}), upstream)
    assert key != cache_key(_task({**args, "min_age": 21.0}), upstream)
    assert key != cache_key(_task(args), changed)
    assert key != cache_key(_task(args, code="d" * 64), upstream)


def test_executors_are_named_local_or_dask() -> None:
    assert resolve_executor(None).name == "local"
    assert resolve_executor("dask://scheduler:8786").name == "dask://scheduler:8786"
    for bad in ("spark://x", "dask://", "threads"):
        with pytest.raises(InvalidInput, match="use 'local' or 'dask://host:port'"):
            resolve_executor(bad)
