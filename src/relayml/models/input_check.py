"""Input checking: hold data up to a model's signature and convert it to what the model takes.

Column dtypes are normalised to a small vocabulary: "bool", "int64", "float64", "string",
"datetime64[ns]" and "datetime64[ns, <tz>]". Input kinds: "dataframe" (named columns) and
"ndarray" (a 2-D array whose columns are named f0..f{n-1}).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from relayml.domain.models import ColumnSpec, Signature
from relayml.errors import InvalidInput

__all__ = ["prepare_input"]

_EXAMPLE_TYPES = (
    "a pandas DataFrame, a pyarrow Table, a 2-D numpy array or a list of dicts (one per row)"
)
_INPUT_TYPES = (
    "a pandas DataFrame, a pyarrow Table, a 2-D numpy array, a list of dicts (one per row) "
    "or one dict (one row)"
)
_FROM_INFERRED = {
    "string": "string",
    "boolean": "bool",
    "integer": "int64",
    "floating": "float64",
    "mixed-integer-float": "float64",
    "datetime64": "datetime64[ns]",
    "datetime": "datetime64[ns]",
    "date": "datetime64[ns]",
    "empty": "empty",
}
_NUMPY = {"bool": np.dtype(np.bool_), "int64": np.dtype(np.int64), "float64": np.dtype(np.float64)}
_NULLABLE = {"bool": "boolean", "int64": "Int64"}
_INT64_MIN = -(2**63)
_INT64_END = 2**63  # the first integer int64 cannot hold; a float64 holds it exactly


def _dtype_kind(dtype: Any) -> str | None:
    """The normalised name of a dtype, or None when only the values can tell (object)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return _series_kind(pd.Series(dtype.categories))
    if isinstance(dtype, pd.DatetimeTZDtype):
        return f"datetime64[ns, {dtype.tz}]"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int64"
    if pd.api.types.is_float_dtype(dtype):
        return "float64"
    if isinstance(dtype, np.dtype):
        if dtype.kind == "M":
            return "datetime64[ns]"
        if dtype.kind in "US":
            return "string"
        if dtype.kind == "O":
            return None
    return str(dtype)


def _series_kind(series: pd.Series) -> str:
    """The normalised dtype of a column; for object columns, what its values are."""
    kind = _dtype_kind(series.dtype)
    if kind is not None:
        return kind
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred in _FROM_INFERRED:
        return _FROM_INFERRED[inferred]
    types = sorted({type(value).__name__ for value in series.dropna().head(100)})
    return types[0] if len(types) == 1 else "mixed values (" + ", ".join(types) + ")"


def _to_table(data: Any, *, example: bool) -> pd.DataFrame | np.ndarray:
    """A DataFrame or a numpy array of the data, or InvalidInput naming the types that work."""
    types = _EXAMPLE_TYPES if example else _INPUT_TYPES
    what = "input example" if example else "input"
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, np.ndarray):
        if data.ndim != 2:
            hint = " (for one row, use array.reshape(1, -1))" if data.ndim == 1 else ""
            raise InvalidInput(f"the {what} is a {data.ndim}-D array{hint}; use {types}.")
        if data.size == 0:
            raise InvalidInput(_empty(example))
        return data
    elif type(data).__module__.startswith("pyarrow") and hasattr(data, "to_pandas"):
        frame = data.to_pandas()
    elif isinstance(data, list) and data and all(isinstance(row, Mapping) for row in data):
        frame = pd.DataFrame.from_records(data)
    elif isinstance(data, Mapping) and not example:
        frame = pd.DataFrame([data]) if data else pd.DataFrame()
    elif isinstance(data, list) and not data:
        raise InvalidInput(_empty(example))
    elif isinstance(data, list):
        raise InvalidInput(f"the {what} is a list of something other than dicts; use {types}.")
    else:
        hint = " (wrap one row in a list: [{...}])" if isinstance(data, Mapping) else ""
        raise InvalidInput(f"cannot use a {type(data).__name__} as the {what}{hint}; use {types}.")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InvalidInput(_empty(example))
    if not all(isinstance(column, str) for column in frame.columns):
        frame = frame.rename(columns=str)
    return frame


def _empty(example: bool) -> str:
    if example:
        return "the input example is empty: give at least one row with every column."
    return "no rows to predict"


def prepare_input(signature: Signature, data: Any) -> Any:
    """Check data against the signature and return what the model takes.

    Returns a DataFrame with exactly the signature's columns, in its order and dtypes (input kind
    "dataframe"), or a 2-D numpy array (input kind "ndarray"). Ints widen to floats; floats with
    whole values narrow to ints; ISO date strings parse to datetimes. Extra columns are refused
    (strict), like missing and mistyped ones: one InvalidInput lists every problem.

    Missing values (None, NaN) are refused in every column whose spec is not nullable, float
    columns included. Infinite values (+inf, -inf) are refused in float columns whatever the spec
    says: a model fitted on finite numbers has no answer for them, and nothing in a signature
    allows them. Integers and whole floats outside the int64 range are refused, not wrapped
    around. For an "ndarray" signature, nested lists must all have the same length. Input that
    already has the signature's columns and dtypes (and only finite floats) goes to the model as
    it is, not copied.
    """
    if signature.input_kind == "ndarray":
        return _prepare_array(signature, data)
    table = _to_table(data, example=False)
    if isinstance(table, np.ndarray):
        raise InvalidInput(
            "the model takes named columns ("
            + ", ".join(spec.name for spec in signature.inputs)
            + "); pass a DataFrame, a pyarrow Table, a list of dicts or one dict, not an array."
        )
    return _prepare_frame(signature.inputs, table)


def _prepare_frame(specs: list[ColumnSpec], frame: pd.DataFrame) -> pd.DataFrame:
    names = [spec.name for spec in specs]
    columns = list(frame.columns)
    if (
        columns == names
        and all(
            _is_exact(spec.dtype, dtype) for spec, dtype in zip(specs, frame.dtypes, strict=True)
        )
        and _floats_as_is(specs, frame)
    ):
        return frame
    problems: list[str] = []
    duplicated = sorted(c for c, n in Counter(columns).items() if n > 1)
    if duplicated:
        problems.append("duplicate columns: " + ", ".join(duplicated))
    present = set(columns)
    missing = [name for name in names if name not in present]
    expected = set(names)
    extra = [c for c in dict.fromkeys(columns) if c not in expected]
    if missing:
        problems.append("missing columns: " + ", ".join(missing))
    if extra:
        problems.append("extra columns: " + ", ".join(extra))
    converted: dict[str, Any] = {}
    mistyped: list[str] = []
    for spec in specs:
        if spec.name not in present or spec.name in duplicated:
            continue
        series = frame[spec.name]
        if _as_is(spec, series):
            continue
        result = _convert(series, spec)
        if isinstance(result, str):
            mistyped.append(f"{spec.name!r} expected {spec.dtype}, got {result}")
        else:
            converted[spec.name] = result
    if mistyped:
        problems.append("mistyped columns: " + "; ".join(mistyped))
    if problems:
        raise InvalidInput("input does not match the model's signature: " + "; ".join(problems))
    selected = frame[names] if columns != names else frame
    return selected.assign(**converted) if converted else selected


def _is_exact(expected: str, dtype: Any) -> bool:
    """Whether a column of this dtype goes to the model as it is (the cheap path)."""
    if expected in _NUMPY:
        return bool(dtype == _NUMPY[expected])
    if expected == "string":
        return isinstance(dtype, pd.StringDtype)
    if expected == "datetime64[ns]":
        return isinstance(dtype, np.dtype) and dtype.kind == "M"
    return _dtype_kind(dtype) == expected


def _as_is(spec: ColumnSpec, series: pd.Series) -> bool:
    """Whether the column goes to the model as it is: the spec's dtype, and only allowed values."""
    if not _is_exact(spec.dtype, series.dtype):
        return False
    return spec.dtype != "float64" or _float_problem(series.to_numpy(), spec.nullable) is None


def _floats_as_is(specs: list[ColumnSpec], frame: pd.DataFrame) -> bool:
    """Whether the float columns of a frame already in the spec's dtypes hold allowed values."""
    floats = [spec for spec in specs if spec.dtype == "float64"]
    if len(floats) <= 3:  # a column at a time is quicker for a few
        return all(
            _float_problem(frame[spec.name].to_numpy(), spec.nullable) is None for spec in floats
        )
    # Every float64 column is one of the float specs, in their order: a view, not a copy.
    values = frame.select_dtypes(include=[np.float64]).to_numpy()
    if values.shape[1] != len(floats):
        return False  # not while every dtype is exact; the slow path checks column by column
    finite = np.isfinite(values).all(axis=0)
    return bool(finite.all()) or all(
        _float_problem(values[:, i], spec.nullable) is None
        for i, spec in enumerate(floats)
        if not finite[i]
    )


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _float_problem(values: np.ndarray, nullable: bool) -> str | None:
    """What is wrong with the values of a float column: missing (unless nullable) or infinite."""
    if np.isfinite(values).all():
        return None
    problems = []
    missing = 0 if nullable else int(np.isnan(values).sum())
    if missing:
        problems.append(f"missing values in {_rows(missing)}")
    infinite = int(np.isinf(values).sum())
    if infinite:
        problems.append(f"infinite values in {_rows(infinite)}")
    return " and ".join(problems) or None


def _int_problem(series: pd.Series, narrowing: bool) -> str | None:
    """What stops the values of a column becoming int64: fractions, infinities, the range."""
    problems = []
    if narrowing:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        values = values[~np.isnan(values)]
        finite = values[np.isfinite(values)]
        if not np.array_equal(finite, np.floor(finite)):
            problems.append("float64 with non-integral values")
        outside = int(((finite < _INT64_MIN) | (finite >= _INT64_END)).sum())
        infinite = values.size - finite.size
    else:
        outside = _outside_int64(series)
        infinite = 0
    if outside:
        problems.append(f"values outside the int64 range in {_rows(outside)}")
    if infinite:
        problems.append(f"infinite values in {_rows(infinite)}")
    return " and ".join(problems) or None


def _outside_int64(series: pd.Series) -> int:
    """How many integers of the column int64 cannot hold (uint64 and Python ints can be more)."""
    if pd.api.types.is_unsigned_integer_dtype(series.dtype):
        return int((series.dropna() >= _INT64_END).sum())
    if series.dtype == object:
        return sum(1 for value in series.dropna() if not _INT64_MIN <= value < _INT64_END)
    return 0


def _convert(series: pd.Series, spec: ColumnSpec) -> pd.Series | str:
    """The column in the spec's dtype, or the text saying what it is instead."""
    expected = spec.dtype
    actual = _series_kind(series)
    if expected.startswith("datetime64[ns"):
        return _convert_datetime(series, actual, expected)
    if expected == "string":
        return series if actual in ("string", "empty") else actual
    if expected == "float64":
        if actual not in ("float64", "int64", "empty"):
            return actual
        if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu":
            return series.astype(np.float64)  # integers: none missing, none infinite
        try:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        except OverflowError:
            return "integers too large for float64"
        problem = _float_problem(values, spec.nullable)
        return problem or pd.Series(values, index=series.index, name=series.name, copy=False)
    narrowing = expected == "int64" and actual == "float64"
    if actual not in (expected, "empty") and not narrowing:
        return actual
    nulls = bool(series.isna().any())
    if nulls and not spec.nullable:
        return "only missing values" if actual == "empty" else f"{actual} with missing values"
    if expected == "int64":
        problem = _int_problem(series, narrowing)
        if problem:
            return problem
    return series.astype(_NULLABLE[expected] if nulls else _NUMPY[expected])


def _convert_datetime(series: pd.Series, actual: str, expected: str) -> pd.Series | str:
    """Datetimes as they are, and ISO 8601 strings parsed; the time zone must match."""
    if actual not in ("string", "empty", expected):
        return actual
    if _dtype_kind(series.dtype) != expected:
        try:
            series = pd.to_datetime(series, format="ISO8601")
        except (ValueError, TypeError):
            return "strings that are not ISO 8601 dates"
    parsed = _dtype_kind(series.dtype) or actual
    return series if parsed == expected else parsed


def _rows_to_array(rows: list[Any], width: int) -> np.ndarray:
    """Nested lists as a numpy array, or InvalidInput when they do not make a 2-D one."""
    try:
        return np.asarray(rows)
    except (ValueError, TypeError):
        pass
    lengths = sorted({len(row) for row in rows if isinstance(row, list | tuple | np.ndarray)})
    if len(lengths) > 1:
        shown = ", ".join(str(length) for length in lengths[:-1]) + f" and {lengths[-1]}"
        raise InvalidInput(
            f"input does not match the model's signature: the rows have different lengths "
            f"({shown} values); each row must have {width} values."
        )
    raise InvalidInput(
        "input does not match the model's signature: the rows do not make a 2-D array; "
        f"each row must be a list of {width} values."
    )


def _prepare_array(signature: Signature, data: Any) -> np.ndarray:
    specs = signature.inputs
    if isinstance(data, list) and data and not isinstance(data[0], Mapping):
        data = _rows_to_array(data, len(specs))
    table = _to_table(data, example=False)
    if isinstance(table, pd.DataFrame):
        array: np.ndarray = _prepare_frame(specs, table).to_numpy()
        return array
    if table.shape[1] != len(specs):
        raise InvalidInput(
            f"input does not match the model's signature: expected a 2-D array of "
            f"{len(specs)} columns, got {table.shape[1]} columns."
        )
    expected = specs[0].dtype
    exact = _is_exact(expected, table.dtype) or (
        expected == "string" and _dtype_kind(table.dtype) == "string"
    )
    if exact and (expected != "float64" or np.isfinite(table).all()):
        return table
    if not exact:
        flat = pd.Series(table.ravel(), copy=False)
        nullable = all(spec.nullable for spec in specs)
        result = _convert(flat, ColumnSpec(name="array", dtype=expected, nullable=nullable))
        if not isinstance(result, str):
            converted: np.ndarray = result.to_numpy().reshape(table.shape)
            return converted
        if result == _series_kind(flat):
            raise InvalidInput(
                f"input does not match the model's signature: expected an array of {expected}, "
                f"got {result}."
            )
    return _convert_columns(table, specs, exact)


def _convert_columns(table: np.ndarray, specs: list[ColumnSpec], exact: bool) -> np.ndarray:
    """The array converted column by column (slower), naming each column whose values are wrong."""
    columns: list[np.ndarray] = []
    mistyped: list[str] = []
    for i, spec in enumerate(specs):
        result = _convert(pd.Series(table[:, i]), spec)
        if isinstance(result, str):
            mistyped.append(f"{spec.name!r} expected {spec.dtype}, got {result}")
        else:
            columns.append(result.to_numpy())
    if mistyped:
        raise InvalidInput(
            "input does not match the model's signature: mistyped columns: " + "; ".join(mistyped)
        )
    if exact:
        return table
    stacked: np.ndarray = np.column_stack(columns)
    return stacked
