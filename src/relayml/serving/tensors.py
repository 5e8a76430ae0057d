"""Open Inference Protocol V2 tensors: the datatype of each signature dtype, and the checks of a
request's input tensors (their structure, names, datatypes and shapes) before their values are
read into columns (relayml.serving.codec)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from relayml.domain.models import ColumnSpec
from relayml.errors import InvalidInput

__all__ = [
    "check_tensors",
    "flat_data",
    "json_kind",
    "matrix_rows",
    "tensors_by_column",
    "v2_datatype",
]

_JSON_KIND = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
_JSON_KIND[type(None)] = "null"
_V2_TYPES = {"bool": "BOOL", "int64": "INT64", "float64": "FP64", "string": "BYTES"}
_V2_ACCEPTS = {
    "float64": {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16"},
    "int64": {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"},
    "bool": {"BOOL"},
    "string": {"BYTES"},
    "key": {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "BYTES"},
}


def json_kind(value: Any) -> str:
    """What a JSON value is, for a message ("an object", "null", "a number", ...)."""
    return _JSON_KIND.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def v2_datatype(dtype: str) -> str:
    """The Open Inference Protocol datatype of a signature dtype (BYTES for text and dates)."""
    return _V2_TYPES.get(dtype, "BYTES")


def check_tensors(inputs: Any) -> None:
    """InvalidInput unless inputs is a non-empty list of {name, shape, datatype, data}."""
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput(
            '"inputs" must be a non-empty list of tensors {name, shape, datatype, data}.'
        )
    for index, tensor in enumerate(inputs):
        fields = {"name", "shape", "datatype", "data"}
        if not isinstance(tensor, dict) or not fields <= tensor.keys():
            raise InvalidInput(
                f"inputs[{index}] must be an object with name, shape, datatype and data."
            )
        for key in ("name", "datatype"):
            if not isinstance(tensor[key], str):
                raise InvalidInput(f"inputs[{index}].{key} must be a string.")


def tensors_by_column(inputs: list[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """The tensors by name, one per column; InvalidInput naming the missing and unexpected."""
    by_name = {t["name"]: t for t in inputs}
    missing = [n for n in names if n not in by_name]
    extra = sorted(set(by_name) - set(names))
    if missing or extra:
        parts = (["missing " + ", ".join(missing)] if missing else []) + (
            ["unexpected " + ", ".join(extra)] if extra else []
        )
        raise InvalidInput(
            f"input tensors: {'; '.join(parts)}. Send one tensor per column "
            f"({', '.join(names)}) or one 2-D tensor of shape [rows, {len(names)}]."
        )
    return by_name


def _flattened(data: list[Any]) -> list[Any]:
    """Nested rows as one list of values, in order (a value outside a row stays as it is)."""
    return [v for row in data for v in (row if isinstance(row, list) else [row])]


def flat_data(tensor: Mapping[str, Any], spec: ColumnSpec) -> list[Any]:
    """A column's tensor's values, flattened, once its datatype and shape fit the column."""
    name = tensor["name"]
    accepted = _V2_ACCEPTS.get(spec.dtype, {"BYTES"})
    if tensor["datatype"] not in accepted:
        raise InvalidInput(
            f"tensor {name!r} is {tensor['datatype']}, but column {spec.name!r} holds "
            f"{spec.dtype}; send it as {v2_datatype(spec.dtype)}."
        )
    data = tensor["data"]
    if not isinstance(data, list):
        raise InvalidInput(f"tensor {name!r}: data must be a list, not {json_kind(data)}.")
    if data and isinstance(data[0], list):
        data = _flattened(data)
    shape = tensor["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
        raise InvalidInput(f"tensor {name!r}: shape must be a list of integers, e.g. [3, 1].")
    if int(np.prod(shape)) != len(data):
        raise InvalidInput(
            f"tensor {name!r}: shape {shape} holds {int(np.prod(shape))} values but data has "
            f"{len(data)}."
        )
    return data


def matrix_rows(tensor: Mapping[str, Any], specs: Sequence[ColumnSpec]) -> list[list[Any]]:
    """The rows of one 2-D tensor holding every column in signature order."""
    width = len(specs)
    shape = tensor["shape"]
    if not (isinstance(shape, list) and len(shape) == 2 and shape[1] == width):
        raise InvalidInput(
            f"tensor {tensor['name']!r} has shape {shape}; a single tensor must be 2-D "
            f"[rows, {width}] with the columns in this order: {', '.join(s.name for s in specs)}. "
            "Or send one tensor per column, named after it."
        )
    dtypes = {s.dtype for s in specs}
    accepted = set.intersection(*(_V2_ACCEPTS.get(d, {"BYTES"}) for d in dtypes))
    if tensor["datatype"] not in accepted:
        raise InvalidInput(
            f"tensor {tensor['name']!r} is {tensor['datatype']}; the columns hold "
            f"{', '.join(sorted(dtypes))}."
        )
    data = tensor["data"]
    if not isinstance(data, list):
        raise InvalidInput(f"tensor {tensor['name']!r}: data must be a list.")
    flat = _flattened(data)
    if len(flat) != shape[0] * width or not flat:
        raise InvalidInput(
            f"tensor {tensor['name']!r}: shape {shape} holds {shape[0] * width} values but "
            f"data has {len(flat)}."
        )
    return [flat[i : i + width] for i in range(0, len(flat), width)]
