"""Request bodies to validated columns, and batches of columns to what a model takes.

The hot path never builds a DataFrame per request: a request becomes one numpy array per input
column, checked against the signature (the message names the column, the row and the problem).
Requests waiting for the model are joined column by column and converted once per batch by the
same strict checker the SDK uses (``prepare_input``). The V2 protocol's tensors are checked in
relayml.serving.tensors before their values are read here.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relayml.domain.models import ColumnSpec, Signature
from relayml.errors import InvalidInput
from relayml.models.signature import prepare_input
from relayml.serving.tensors import (
    check_tensors,
    flat_data,
    json_kind,
    matrix_rows,
    tensors_by_column,
)

__all__ = ["Columns", "InputCodec", "instances_of"]

_NUMBER = (int, float)
_FLOATS = frozenset({float, int})  # the Python types of JSON numbers (bool is neither)


@dataclass(frozen=True, slots=True)
class Columns:
    """One request's rows as validated arrays, one per input column, plus pass-through fields."""

    arrays: dict[str, np.ndarray]
    rows: int
    keys: list[Any] | None = None  # the sticky-key field of each row, when the request had one
    ids: list[str] | None = None  # prediction ids given in advance (a shadow's copy of a request)
    received: float = 0.0  # time.perf_counter() when the request arrived
    matrix: np.ndarray | None = None  # all-float inputs: the rows as one matrix, arrays its columns
    logged_at: int | None = None  # a replayed request's own time (epoch ms) for the log; else now

    def take(self, rows: Sequence[int]) -> Columns:
        """The rows at the given positions (ascending, each once)."""
        if len(rows) == self.rows:
            return self
        picked = np.asarray(rows, dtype=np.intp)
        matrix = None if self.matrix is None else self.matrix[picked]
        return Columns(
            {name: array[picked] for name, array in self.arrays.items()}
            if matrix is None
            else _views(matrix, list(self.arrays)),
            len(picked),
            None if self.keys is None else [self.keys[i] for i in rows],
            None if self.ids is None else [self.ids[i] for i in rows],
            self.received,
            matrix,
            self.logged_at,
        )

    def with_key(self, key: Any) -> Columns:
        """These rows with one request key (sent in a header or the request's parameters)."""
        if key is None:
            return self
        keys = [key] * self.rows
        return Columns(
            self.arrays, self.rows, keys, self.ids, self.received, self.matrix, self.logged_at
        )

    def replayed(self, logged_at: int | None) -> Columns:
        """These rows with the time a replaying server logs them at (epoch ms; None: now)."""
        if logged_at is None:
            return self
        return Columns(
            self.arrays, self.rows, self.keys, self.ids, self.received, self.matrix, logged_at
        )

    def at(
        self, received: float, ids: list[str] | None = None, logged_at: int | None = None
    ) -> Columns:
        """These rows, received at `received` (and given these prediction ids, if any; logged
        at `logged_at`, epoch ms, when a replaying server was given the request's own time)."""
        ids = self.ids if ids is None else ids
        when = self.logged_at if logged_at is None else logged_at
        return Columns(self.arrays, self.rows, self.keys, ids, received, self.matrix, when)


def _views(matrix: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The columns of a matrix, by name (views, no copy)."""
    return {name: matrix[:, i] for i, name in enumerate(names)}


def _takes(columns: Sequence[str]) -> str:
    return f"; the model takes {len(columns)} columns: {', '.join(columns)}" if columns else ""


def instances_of(payload: Any, example: Any, columns: Sequence[str] = ()) -> list[Any]:
    """The rows of a /predict body: one record, or the list under "instances".

    An error shows a short example and names every column of ``columns`` (the model's).
    """
    if isinstance(payload, dict) and "instances" not in payload:
        return [payload]

    def usage() -> str:
        shown = json.dumps(example)
        return f'send one record or {{"instances": [...]}}, e.g. {{"instances": [{shown}]}}' + (
            _takes(columns)
        )

    if isinstance(payload, dict):
        extra = sorted(set(payload) - {"instances"})
        if extra:
            raise InvalidInput(f"unexpected keys next to instances: {', '.join(extra)}; {usage()}.")
        rows = payload["instances"]
        if not isinstance(rows, list):
            raise InvalidInput(
                f'"instances" must be a list of records, not {json_kind(rows)}; {usage()}.'
            )
        if not rows:
            raise InvalidInput(f'"instances" is empty: there are no rows to predict; {usage()}.')
        return rows
    if isinstance(payload, list) and isinstance(example, list):
        if payload and isinstance(payload[0], list):
            return payload
        return [payload]
    raise InvalidInput(f"the body is {json_kind(payload)}; {usage()}.")


class InputCodec:
    """Validates requests against one model signature and builds the model's batch input."""

    def __init__(self, signature: Signature, passthrough: Collection[str] = ()) -> None:
        self.signature = signature
        self.specs: list[ColumnSpec] = list(signature.inputs)
        self.names = [s.name for s in self.specs]
        self.expected = set(self.names)
        self.passthrough = set(passthrough) - self.expected
        self.accepts_lists = signature.input_kind == "ndarray"
        dtypes = {s.dtype for s in self.specs}
        self.all_float = dtypes == {"float64"} and not any(s.nullable for s in self.specs)
        self.all_numeric = dtypes <= {"float64", "int64", "bool"} and not any(
            s.nullable for s in self.specs
        )
        self.example = self._example()

    def _example(self) -> Any:
        values = {"float64": 0.5, "int64": 1, "bool": True, "string": "text", "key": 42}
        record = {s.name: values.get(s.dtype, "2026-01-01T00:00:00") for s in self.specs[:4]}
        if self.accepts_lists:
            return [0.5] * len(self.specs)
        return record

    # requests -> columns
    def from_records(self, rows: Sequence[Any], key: str | None = None) -> Columns:
        """Validate /predict rows (records, or lists for array models) into columns."""
        first = rows[0]
        if self.accepts_lists and isinstance(first, list):
            return self._from_lists(rows)
        if self.all_float and key is None:
            fast = self._float_records(rows)
            if fast is not None:
                return fast
        values: dict[str, list[Any]] = {name: [] for name in self.names}
        keys: list[Any] | None = [] if key is not None else None
        allowed = self.expected | self.passthrough
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                wanted = "records or lists of numbers" if self.accepts_lists else "records"
                kind, takes = json_kind(row), _takes(self.names)
                raise InvalidInput(f"row {index} is {kind}, but rows must be {wanted}{takes}.")
            if row.keys() != self.expected and not (
                self.expected <= row.keys() and row.keys() <= allowed
            ):
                raise InvalidInput(self._shape_problem(index, row))
            for name in self.names:
                values[name].append(row[name])
            if keys is not None:
                keys.append(row.get(key))
        arrays = {spec.name: self._column(spec, values[spec.name]) for spec in self.specs}
        return Columns(arrays, len(rows), keys)

    def _float_records(self, rows: Sequence[Any]) -> Columns | None:
        """Records of an all-float model as one matrix, when every row is a record of exactly
        the model's columns holding numbers; None otherwise (the general path names the
        problem)."""
        names, expected = self.names, self.expected
        flat: list[Any] = []
        for row in rows:
            if type(row) is not dict or row.keys() != expected:
                return None
            flat += [row[name] for name in names]
        if not set(map(type, flat)) <= _FLOATS:
            return None
        try:
            matrix = np.array(flat, dtype=np.float64).reshape(len(rows), len(names))
        except OverflowError:
            return None
        return Columns(_views(matrix, names), len(rows), matrix=matrix)

    def _shape_problem(self, index: int, row: Mapping[str, Any]) -> str:
        missing = [n for n in self.names if n not in row]
        extra = sorted(set(row) - self.expected - self.passthrough)
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if extra:
            parts.append("unexpected " + ", ".join(extra))
        return (
            f"row {index}: {'; '.join(parts)}. The model takes {len(self.names)} columns: "
            f"{', '.join(self.names)}."
        )

    def _from_lists(self, rows: Sequence[Any]) -> Columns:
        width = len(self.specs)
        for index, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                got = f"{len(row)} values" if isinstance(row, list) else json_kind(row)
                raise InvalidInput(f"row {index} has {got}; the model takes {width} per row.")
        if self.all_float:
            flat = [value for row in rows for value in row]
            if set(map(type, flat)) <= _FLOATS:
                try:
                    matrix = np.array(flat, dtype=np.float64).reshape(len(rows), width)
                except OverflowError:
                    pass
                else:
                    return Columns(_views(matrix, self.names), len(rows), matrix=matrix)
        columns = list(zip(*rows, strict=True))
        arrays = {
            spec.name: self._column(spec, list(column))
            for spec, column in zip(self.specs, columns, strict=True)
        }
        return Columns(arrays, len(rows))

    def from_v2(self, inputs: Any) -> Columns:
        """Validate Open Inference Protocol input tensors: one per column, or one 2-D tensor."""
        check_tensors(inputs)
        if len(inputs) == 1 and inputs[0]["name"] not in self.expected:
            return self._from_lists(matrix_rows(inputs[0], self.specs))
        by_name = tensors_by_column(inputs, self.names)
        arrays: dict[str, np.ndarray] = {}
        rows: int | None = None
        for spec in self.specs:
            data = flat_data(by_name[spec.name], spec)
            if not data:
                raise InvalidInput("the input tensors are empty: there are no rows to predict.")
            if rows is None:
                rows = len(data)
            elif len(data) != rows:
                raise InvalidInput(
                    f"tensor {spec.name!r} has {len(data)} values but {self.names[0]!r} has "
                    f"{rows}; every column needs one value per row."
                )
            arrays[spec.name] = self._column(spec, data)
        if not rows:
            raise InvalidInput("the input tensors are empty: there are no rows to predict.")
        return Columns(arrays, rows)

    def _column(self, spec: ColumnSpec, values: list[Any]) -> np.ndarray:
        types = set(map(type, values))
        dtype = spec.dtype
        if dtype == "float64" and types <= {float, int}:
            try:
                return np.array(values, dtype=np.float64)
            except OverflowError:
                raise InvalidInput(
                    f"column {spec.name!r}: a number is too large for float64."
                ) from None
        if dtype == "int64" and types == {int}:
            try:
                return np.array(values, dtype=np.int64)
            except OverflowError:
                pass
        elif dtype == "bool" and types == {bool}:
            return np.array(values, dtype=np.bool_)
        elif (dtype == "key" and types <= {int, str}) or (
            (dtype == "string" or dtype.startswith("datetime64")) and types == {str}
        ):  # an entity's join key (feature inputs)
            return np.array(values, dtype=object)
        if type(None) in types and spec.nullable:
            rest = types - {type(None)}
            if rest <= ({float, int} if dtype in ("float64", "int64") else {_PY.get(dtype, str)}):
                return np.array(values, dtype=object)
        raise InvalidInput(self._value_problem(spec, values))

    def _value_problem(self, spec: ColumnSpec, values: list[Any]) -> str:
        wanted = {
            "float64": "a number",
            "int64": "a whole number",
            "bool": "true or false",
            "string": "a string",
            "key": "an entity key (a whole number or a string)",
        }.get(spec.dtype, "an ISO date-time string")
        for index, value in enumerate(values):
            if value is None:
                if not spec.nullable:
                    return f"column {spec.name!r}, row {index}: null, but the model needs {wanted}."
                continue
            ok = {
                "float64": isinstance(value, _NUMBER) and not isinstance(value, bool),
                "int64": type(value) is int and -(2**63) <= value < 2**63,
                "bool": isinstance(value, bool),
                "key": type(value) in (int, str),
            }.get(spec.dtype, isinstance(value, str))
            if not ok:
                shown = json.dumps(value)[:40]
                out_of_range = spec.dtype == "int64" and type(value) is int
                problem = "out of the int64 range" if out_of_range else json_kind(value)
                return (
                    f"column {spec.name!r}, row {index}: {shown} is {problem}, but the model needs "
                    f"{wanted} ({spec.dtype})."
                )
        return f"column {spec.name!r}: values do not fit {spec.dtype}."

    # columns -> model input
    def join(self, batch: Sequence[Columns]) -> dict[str, np.ndarray]:
        """The columns of several requests, joined."""
        if len(batch) == 1:
            return batch[0].arrays
        return {n: np.concatenate([c.arrays[n] for c in batch]) for n in self.names}

    def model_input(self, batch: Sequence[Columns], *, as_array: bool = False) -> Any:
        """Join requests' columns and convert them once to what the model takes."""
        return self.batch_input(batch, as_array=as_array)[1]

    def batch_input(
        self, batch: Sequence[Columns], *, as_array: bool = False
    ) -> tuple[dict[str, np.ndarray], Any]:
        """The joined columns of several requests, and what the model takes, converted once.

        Requests that arrived as one float matrix each (see Columns.matrix) are stacked as
        such: no column is joined or stacked again.
        """
        if not all(c.matrix is not None for c in batch):
            arrays = self.join(batch)
            return arrays, self.to_model(arrays, as_array=as_array)
        if len(batch) == 1:
            arrays = batch[0].arrays
            matrix = batch[0].matrix
            assert matrix is not None
        else:
            matrix = np.concatenate([c.matrix for c in batch if c.matrix is not None])
            arrays = _views(matrix, self.names)
        if as_array:  # a scikit-learn estimator: it does not change its input
            return arrays, matrix
        if self.signature.input_kind == "ndarray":
            return arrays, matrix.copy()  # the logged columns are views of the matrix
        return arrays, pd.DataFrame(matrix.copy(), columns=self.names)

    def to_model(self, arrays: dict[str, np.ndarray], *, as_array: bool = False) -> Any:
        """Joined columns converted once to what the model takes.

        Columns of float64, int64 and bool arrive here with those exact dtypes (from_records
        built them), so they skip the general checker; text and dates go through it.
        ``as_array`` gives a float64 matrix for models that take one though fitted on a frame.
        """
        if as_array or self.signature.input_kind == "ndarray":
            table = np.column_stack([arrays[n] for n in self.names])
            if self.all_float or as_array:
                return table.astype(np.float64, copy=False)
            return prepare_input(self.signature, table)
        if self.all_float:
            return pd.DataFrame(
                np.column_stack([arrays[n] for n in self.names]), columns=self.names
            )
        frame = pd.DataFrame(arrays, copy=False)
        return frame if self.all_numeric else prepare_input(self.signature, frame)


_PY = {"bool": bool, "string": str}
