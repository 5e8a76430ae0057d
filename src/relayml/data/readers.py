"""Reading a dataset from where it lives into one Arrow table, with the column types asked for.

Sources: a pandas DataFrame or Series, a pyarrow Table or RecordBatch, a Parquet or CSV file (a
path or an fsspec URL), or a SQL query ``{"sql": "select ...", "url": "<any SQLAlchemy URL>"}``.
A value that does not fit its column's type is refused naming the column, the row and the value;
:func:`prepare_dataset` then puts the table in canonical form (:mod:`relayml.data.profile`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from relayml.data.canonical import canonical_table
from relayml.errors import InvalidInput, MissingDependency

__all__ = ["prepare_dataset", "read_source"]

_SQL_KEYS = {"sql", "url"}
_PANDAS_METADATA = b"pandas"


# -- column types ----------------------------------------------------------------------------


def _arrow_type(column: str, name: str | pa.DataType) -> pa.DataType:
    if isinstance(name, pa.DataType):
        return name
    try:
        return pa.type_for_alias(str(name))
    except ValueError:
        raise InvalidInput(
            f"column_types[{column!r}]: {name!r} is not an Arrow type; use e.g. int64, "
            "float64, string, bool, date32 or timestamp[s]."
        ) from None


def _types(column_types: Mapping[str, str | pa.DataType] | None) -> dict[str, pa.DataType]:
    return {c: _arrow_type(c, t) for c, t in (column_types or {}).items()}


def _first_bad(values: pa.Array, target: pa.DataType) -> int | None:
    """Index of the first value that does not convert to target (binary search), or None."""
    try:
        pc.cast(values, target)
        return None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    low, high = 0, len(values)  # the first bad value is in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            pc.cast(values.slice(low, middle - low), target)
            low = middle
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            high = middle
    return low


def _bad_value(column: str, values: pa.Array, target: pa.DataType, *, csv: bool) -> str:
    index = _first_bad(values, target)
    if index is None:
        return f"column {column!r} does not convert to {target}."
    where = f"row {index + 1}" + (f" (line {index + 2} of the file)" if csv else "")
    return (
        f"column {column!r} does not convert to {target}: {where} holds "
        f"{values[index].as_py()!r}. Fix the value, or read the column as text with "
        f"column_types={{{column!r}: 'string'}}."
    )


def _check_named(types: Mapping[str, Any], names: Sequence[str], label: str) -> None:
    missing = sorted(set(types) - set(names))
    if missing:
        raise InvalidInput(
            f"column_types names {', '.join(map(repr, missing))}, which {label} does not have "
            f"(its columns: {', '.join(names[:30])})."
        )


def _apply_types(table: pa.Table, types: dict[str, pa.DataType]) -> pa.Table:
    _check_named(types, table.column_names, "the data")
    for name, target in types.items():
        index = table.column_names.index(name)
        column = table.column(index)
        try:
            table = table.set_column(index, pa.field(name, target), column.cast(target))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = column.combine_chunks()
            raise InvalidInput(_bad_value(name, values, target, csv=False)) from None
    return table


# -- readers ---------------------------------------------------------------------------------


def _from_pandas(frame: Any) -> pa.Table:
    names = [n for n in frame.index.names if n is not None]
    if names:  # a named index is data; an unnamed one (0..n-1, or a filter's leftovers) is not
        frame = frame.reset_index(level=names)
    bad = [c for c in frame.columns if not isinstance(c, str)]
    if bad:
        raise InvalidInput(
            f"dataset columns must be named by strings; {bad[0]!r} is a "
            f"{type(bad[0]).__name__}. Rename them, e.g. df.columns = df.columns.map(str)."
        )
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        column = re.search(r"column (\S+) with type", str(exc))
        which = f"column {column.group(1)!r}" if column else "a column"
        raise InvalidInput(
            f"{which} of the DataFrame mixes value types that Arrow cannot store together "
            f"({exc}). Make each column one type, e.g. df[col].astype(str)."
        ) from None
    pandas_meta = (table.schema.metadata or {}).get(_PANDAS_METADATA)
    return table.replace_schema_metadata({_PANDAS_METADATA: pandas_meta} if pandas_meta else None)


def _csv_columns(message: str, handle: Any) -> tuple[str | None, str]:
    found = re.search(r"In CSV column #(\d+): (.*)", message)
    if not found:
        return None, message
    with handle() as fh:
        names = pcsv.open_csv(fh).schema.names
    index = int(found.group(1))
    return (names[index] if index < len(names) else None), found.group(2)


def _read_csv(open_file: Any, label: str, types: dict[str, pa.DataType]) -> pa.Table:
    convert = pcsv.ConvertOptions(strings_can_be_null=True, column_types=types)
    try:
        with open_file() as fh:
            table = pcsv.read_csv(fh, convert_options=convert)
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "Expected" in message and "columns" in message:
            raise InvalidInput(f"{label} is not a regular CSV: {_ragged_row(open_file)}") from None
        if message.startswith("Empty CSV"):
            raise InvalidInput(f"{label} is empty; a CSV needs a header line.") from None
        column, problem = _csv_columns(message, open_file)
        if column is None:
            raise InvalidInput(f"{label} could not be read as CSV: {message}") from None
        target = types.get(column)
        if target is None:  # e.g. text that is not UTF-8
            raise InvalidInput(f"{label}: column {column!r} could not be read: {problem}") from None
        strings = pcsv.ConvertOptions(
            strings_can_be_null=True, include_columns=[column], column_types={column: pa.string()}
        )
        with open_file() as fh:
            values = pcsv.read_csv(fh, convert_options=strings).column(0).combine_chunks()
        raise InvalidInput(f"{label}: {_bad_value(column, values, target, csv=True)}") from None
    _check_named(types, table.column_names, label)
    for name in table.column_names:
        if name not in types and pa.types.is_string(table.column(name).type):
            _refuse_stray_values(table.column(name), name, label)
    return table


# Text the CSV reader would have read as a number or a date/time (no surrounding spaces).
_LOOKS_LIKE = {
    "numbers": r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$",
    "dates": r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$",
}
_STRAY_SHARE = 0.01


def _refuse_stray_values(column: pa.ChunkedArray, name: str, label: str) -> None:
    """A column of numbers (or dates) but for a few stray values is a CSV whose types don't
    parse: InvalidInput names the column and the line, rather than reading it all as text."""
    present = len(column) - column.null_count
    if present < 1 / _STRAY_SHARE:
        return
    for kind, pattern in _LOOKS_LIKE.items():
        matched = pc.fill_null(pc.match_substring_regex(column, pattern), True)
        stray = len(column) - (pc.sum(matched).as_py() or 0)
        if 0 < stray <= present * _STRAY_SHARE:
            index = int(pc.index(matched, False).as_py())
            raise InvalidInput(
                f"{label}: column {name!r} holds {kind} except on {stray} "
                f"line{'s' if stray != 1 else ''}; the first is line {index + 2} (row "
                f"{index + 1}): {column[index].as_py()!r}. Fix the value, or keep the column "
                f"as text with column_types={{{name!r}: 'string'}}."
            )


def _ragged_row(open_file: Any) -> str:
    rows: list[Any] = []

    def remember(row: Any) -> str:
        rows.append(row)
        return "error"

    options = pcsv.ParseOptions(invalid_row_handler=remember)
    try:
        with open_file() as fh:
            pcsv.read_csv(
                fh, read_options=pcsv.ReadOptions(use_threads=False), parse_options=options
            )
    except pa.ArrowInvalid as exc:
        if not rows:
            return str(exc)
    row = rows[0]
    return (
        f"line {row.number} has {row.actual_columns} fields where the header has "
        f"{row.expected_columns}: {row.text[:120]!r}."
    )


def _open(location: str) -> Any:
    if "://" in location:
        import fsspec

        return lambda: fsspec.open(location, "rb").open()
    return lambda: open(location, "rb")


def _read_file(data: str | Path, types: dict[str, pa.DataType]) -> tuple[pa.Table, dict[str, Any]]:
    text = str(data)
    remote = "://" in text
    if not remote:
        path = Path(text).expanduser()
        if not path.is_file():
            where = "is a folder" if path.is_dir() else "does not exist"
            raise InvalidInput(
                f"{text} {where}. Pass a DataFrame, an Arrow table, a .parquet or .csv file, or "
                "a SQL source {'sql': 'select ...', 'url': 'sqlite:///file.db'}."
            )
        text = str(path.resolve())
    suffixes = [s.lower() for s in Path(text.split("?")[0]).suffixes]
    open_file = _open(text)
    label = Path(text).name
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        try:
            with open_file() as fh:
                table = pq.read_table(fh)
        except pa.ArrowInvalid as exc:
            raise InvalidInput(f"{label} is not a readable Parquet file: {exc}") from None
        table = _apply_types(table, types)
        kind = "parquet"
    elif ".csv" in suffixes[-2:]:
        table = _read_csv(open_file, label, types)
        kind = "csv"
    else:
        raise InvalidInput(f"{label}: only .parquet (.pq) and .csv files can be read.")
    source: dict[str, Any] = {"kind": kind, "uri": text}
    if not remote:
        source["bytes"] = Path(text).stat().st_size
    return table, source


def _read_sql(
    spec: Mapping[str, Any], types: dict[str, pa.DataType]
) -> tuple[pa.Table, dict[str, Any]]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    extra = sorted(set(spec) - _SQL_KEYS)
    query, url_text = spec.get("sql"), spec.get("url")
    if extra or not isinstance(query, str) or not isinstance(url_text, str) or not query.strip():
        raise InvalidInput(
            "a SQL source is {'sql': 'select ...', 'url': '<SQLAlchemy URL>'}"
            + (f"; it has unknown keys {', '.join(extra)}" if extra else "")
            + "."
        )
    try:
        url = make_url(url_text)
    except ArgumentError:
        raise InvalidInput(f"{url_text!r} is not a SQLAlchemy database URL.") from None
    shown = url.render_as_string(hide_password=True)
    try:
        engine = create_engine(url)
    except ModuleNotFoundError as exc:
        raise MissingDependency(
            f"reading from {shown} needs the database driver module '{exc.name}', which is "
            "not installed. Install the package that provides it (SQLAlchemy's dialect page "
            "names it), e.g. pip install 'psycopg[binary]' for postgresql+psycopg."
        ) from None
    except (ArgumentError, SQLAlchemyError) as exc:
        problem = " ".join(str(exc).replace(str(url), shown).split())
        raise InvalidInput(f"cannot open the SQL source {shown}: {problem}") from None
    try:
        with engine.connect() as conn:
            result = conn.exec_driver_sql(query)
            if not result.returns_rows:
                raise InvalidInput("the SQL source returns no rows; give a SELECT query.")
            names = list(result.keys())
            columns: list[list[Any]] = [[] for _ in names]
            for batch in result.partitions(50_000):
                for part, column in zip(zip(*batch, strict=True), columns, strict=True):
                    column.extend(part)
    except SQLAlchemyError as exc:
        problem = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise InvalidInput(f"the SQL query failed on {shown}: {problem}") from None
    finally:
        engine.dispose()
    _check_named(types, names, "the SQL result")
    arrays = []
    for name, values in zip(names, columns, strict=True):
        try:
            arrays.append(pa.array(values, type=types.get(name)))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"column {name!r} of the SQL result does not make one Arrow column ({exc}). "
                "Cast it in the query, or name its type with column_types."
            ) from None
    table = pa.Table.from_arrays(arrays, names=names) if names else pa.table({})
    return table, {"kind": "sql", "query": query, "url": shown}


def read_source(
    data: Any, *, column_types: Mapping[str, str | pa.DataType] | None = None
) -> tuple[pa.Table, dict[str, Any]]:
    """An Arrow table and a description of where it came from (kind, uri or query)."""
    types = _types(column_types)
    if isinstance(data, pa.Table):
        return _apply_types(data, types), {"kind": "arrow"}
    if isinstance(data, pa.RecordBatch):
        return _apply_types(pa.Table.from_batches([data]), types), {"kind": "arrow"}
    if isinstance(data, str | Path):
        return _read_file(data, types)
    if isinstance(data, Mapping):
        return _read_sql(data, types)
    if type(data).__module__.startswith("pandas") and hasattr(data, "to_frame"):
        data = data.to_frame()  # a Series
    if type(data).__module__.startswith("pandas") and hasattr(data, "columns"):
        return _apply_types(_from_pandas(data), types), {"kind": "pandas"}
    raise InvalidInput(
        f"cannot log a {type(data).__name__} as a dataset; pass a DataFrame, an Arrow table, a "
        ".parquet or .csv path, or a SQL source {'sql': 'select ...', 'url': '...'}."
    )


def prepare_dataset(
    data: Any, *, column_types: Mapping[str, str | pa.DataType] | None = None
) -> tuple[pa.Table, dict[str, Any]]:
    """The canonical Arrow table of any source, and the source's description."""
    table, source = read_source(data, column_types=column_types)
    if table.num_columns == 0:
        raise InvalidInput("the data has no columns; a dataset needs at least one.")
    if column_types:
        source["column_types"] = {k: str(v) for k, v in _types(column_types).items()}
    return canonical_table(table), source
