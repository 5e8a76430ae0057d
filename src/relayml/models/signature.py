"""Model signatures: infer what a model takes and gives by calling it on an input example.

Column dtypes are normalised to a small vocabulary: "bool", "int64", "float64", "string",
"datetime64[ns]" and "datetime64[ns, <tz>]". Input kinds: "dataframe" (named columns) and
"ndarray" (a 2-D array whose columns are named f0..f{n-1}). Checking inputs against a signature
lives in relayml.models.input_check; prepare_input is re-exported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from relayml.domain.models import ColumnSpec, Signature
from relayml.errors import InvalidInput
from relayml.models.flavors import predictable
from relayml.models.input_check import _dtype_kind, _series_kind, _to_table, prepare_input

__all__ = ["infer_signature", "prepare_input"]

_COLUMN_TYPES = "booleans, integers, floats, strings or datetimes"
_BASIC = frozenset({"bool", "int64", "float64", "string", "datetime64[ns]"})


def _describable(kind: str) -> bool:
    return kind in _BASIC or kind.startswith("datetime64[ns, ")


def _input_specs(table: pd.DataFrame | np.ndarray) -> list[ColumnSpec]:
    if isinstance(table, np.ndarray):
        kind = _dtype_kind(table.dtype)
        if kind is None:
            kind = _series_kind(pd.Series(table.ravel()))
        if not _describable(kind):
            raise InvalidInput(
                f"the input example is an array of {kind}, which relayml cannot describe; "
                f"arrays may hold {_COLUMN_TYPES}."
            )
        if kind == "float64":
            values = pd.Series(table.ravel(), copy=False).to_numpy(np.float64, na_value=np.nan)
            infinite = np.isinf(values.reshape(table.shape)).any(axis=0)
            _refuse_infinite([f"f{i}" for i in np.flatnonzero(infinite)])
        nulls = pd.isna(table).any(axis=0)
        return [
            ColumnSpec(name=f"f{i}", dtype=kind, nullable=bool(nulls[i]))
            for i in range(table.shape[1])
        ]
    specs = []
    for name in table.columns:
        series = table[name]
        kind = _series_kind(series)
        if kind == "empty":
            raise InvalidInput(
                f"column {name!r} of the input example has only missing values, so its type "
                "cannot be told; give an example with values in every column."
            )
        if not _describable(kind):
            raise InvalidInput(
                f"column {name!r} of the input example holds {kind}, which relayml cannot "
                f"describe; columns may hold {_COLUMN_TYPES}."
            )
        if kind == "float64":
            values = series.to_numpy(np.float64, na_value=np.nan)
            _refuse_infinite([name] if np.isinf(values).any() else [])
        specs.append(ColumnSpec(name=name, dtype=kind, nullable=bool(series.isna().any())))
    return specs


def _refuse_infinite(names: list[str]) -> None:
    """InvalidInput naming the example's columns with infinite values, which inputs may not hold."""
    if names:
        which = ("column " if len(names) == 1 else "columns ") + ", ".join(map(repr, names))
        raise InvalidInput(
            f"{which} of the input example {'holds' if len(names) == 1 else 'hold'} infinite "
            "values, which inputs may not hold; give an example with finite numbers."
        )


def infer_signature(model: Any, input_example: Any) -> Signature:
    """Describe what the model takes and gives by calling it on an input example."""
    table = _to_table(input_example, example=True)
    kind: Any = "ndarray" if isinstance(table, np.ndarray) else "dataframe"
    inputs = _input_specs(table)
    bare = Signature(inputs=inputs, input_kind=kind, outputs=[], output_shape=[-1])
    prepared = prepare_input(bare, table)
    native = predictable(model)
    try:
        predictions = np.asarray(native.predict(prepared))
    except Exception as exc:
        raise InvalidInput(
            f"the model's predict() failed on the input example: {type(exc).__name__}: {exc}"
        ) from exc
    out_kind = _dtype_kind(predictions.dtype) or _series_kind(pd.Series(predictions.ravel()))
    shape = [-1] if predictions.ndim <= 1 else [-1, *predictions.shape[1:]]
    has_proba = False
    if callable(getattr(native, "predict_proba", None)):
        try:
            has_proba = np.asarray(native.predict_proba(prepared)).ndim == 2
        except Exception:
            has_proba = False
    classes = _classes(native)
    if has_proba or (classes is not None and out_kind != "float64"):
        task: Any = "classification"
    elif out_kind == "float64":
        task = "regression"
    else:
        task = "other"
    return Signature(
        inputs=inputs,
        input_kind=kind,
        outputs=[ColumnSpec(name="prediction", dtype=out_kind)],
        output_shape=shape,
        task=task,
        classes=classes if task == "classification" else None,
        has_proba=has_proba,
    )


def _classes(native: Any) -> list[Any] | None:
    try:
        classes = getattr(native, "classes_", None)
    except Exception:  # a property that needs a fitted final step
        return None
    if classes is None:
        return None
    values: list[Any] = np.asarray(classes).tolist()
    return values
