"""On-demand features: a Python function of other features and request fields.

    @relay.features.on_demand(
        inputs=["customer:tenure", "customer:monthly_spend"],
        request_fields=["amount"],
        features=[relay.features.Feature("amount_share", "float64")],
    )
    def spend(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"amount_share": frame["amount"] / frame["monthly_spend"]})

The function is kept as code, by reference (``module:qualname``) with the sha256 of its source:
no pickled bytecode in the store, so what runs is what a reviewer can read, and the same
function runs offline (training frames) and online. A function whose source changed since it
was applied is refused until it is applied again (a new version). Its module must be importable
where the features are computed (on PYTHONPATH, like a pipeline's steps).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from relayml.domain.features import Feature, OnDemandFeatureSet
from relayml.errors import Conflict, InvalidInput

__all__ = ["OnDemand", "code_hash", "on_demand", "resolve_function", "run_on_demand"]


def code_hash(fn: Callable[..., Any]) -> str:
    """sha256 of the function's source text."""
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError) as exc:
        raise InvalidInput(
            f"the source of {getattr(fn, '__qualname__', fn)!r} cannot be read ({exc}); define "
            "on-demand functions in a module file."
        ) from None
    return hashlib.sha256(source.encode()).hexdigest()


class OnDemand:
    """A declared on-demand feature set and its function (call it like the function)."""

    def __init__(self, definition: OnDemandFeatureSet, fn: Callable[..., Any]) -> None:
        self.definition = definition
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"OnDemand({self.definition.name!r}, function={self.definition.function!r})"


def on_demand(
    *,
    inputs: Sequence[str],
    features: Sequence[Feature],
    request_fields: Sequence[str] = (),
    name: str | None = None,
    owner: str = "",
    description: str = "",
    tags: dict[str, str] | None = None,
) -> Callable[[Callable[..., Any]], OnDemand]:
    """Declare the decorated function (DataFrame -> DataFrame) as an on-demand feature set."""

    def wrap(fn: Callable[..., Any]) -> OnDemand:
        definition = OnDemandFeatureSet(
            name=name or fn.__name__,
            inputs=list(inputs),
            request_fields=list(request_fields),
            function=f"{fn.__module__}:{fn.__qualname__}",
            code_hash=code_hash(fn),
            features=list(features),
            owner=owner,
            description=description or (inspect.getdoc(fn) or "").split("\n")[0],
            tags=dict(tags or {}),
        )
        return OnDemand(definition, fn)

    return wrap


def resolve_function(definition: OnDemandFeatureSet) -> Callable[..., Any]:
    """The applied function, imported by reference; Conflict if its source changed since."""
    module_name, _, qualname = definition.function.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(
            f"on-demand feature set {definition.name!r}: cannot import {definition.function} "
            f"({exc}); put its module on PYTHONPATH."
        ) from None
    fn = target.fn if isinstance(target, OnDemand) else target
    if code_hash(fn) != definition.code_hash:
        raise Conflict(
            f"on-demand feature set {definition.name!r}: {definition.function} changed since it "
            "was applied; run `relay features apply` on its module to make a new version."
        )
    return fn


def run_on_demand(definition: OnDemandFeatureSet, frame: Any) -> Any:
    """Run the function on a frame of its inputs and request fields; its declared outputs."""
    import pandas as pd

    missing = [f for f in definition.request_fields if f not in frame.columns]
    if missing:
        raise InvalidInput(
            f"on-demand feature set {definition.name!r} needs request fields "
            f"{', '.join(missing)}; add them as columns of the entity frame."
        )
    out = resolve_function(definition)(frame)
    result = pd.DataFrame(out)
    wanted = [f.name for f in definition.features]
    absent = [name for name in wanted if name not in result.columns]
    if absent or len(result) != len(frame):
        raise InvalidInput(
            f"on-demand function {definition.function} must return one row per input row with "
            f"columns {', '.join(wanted)} (missing: {', '.join(absent) or 'none'}; rows "
            f"{len(result)} for {len(frame)})."
        )
    return result[wanted].set_axis(frame.index)
