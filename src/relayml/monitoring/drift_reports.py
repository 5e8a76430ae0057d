"""Drift of a current window against a reference sample, per column and for the dataset.

    drift_report(reference, current)              both in memory: exact statistics
    drift_report_stream(reference, batches)       the current window as record batches
    drift_report_dask(reference, current)         Dask DataFrames, summed per partition

Inputs are pyarrow Tables or pandas DataFrames (converted to Arrow once). The statistics, the
methods and their default choice are in `relayml.domain.drift_stats`.

Which columns: those named, else every column present in both samples (except `prediction`,
which is reported apart and not counted in the dataset's drift share). Their kind comes from the
reference's Arrow type: integers, floats and decimals are numeric; strings, booleans and
dictionaries (pandas categories) are categorical, as is any column named in `categorical`. A
numeric column with at most `config.discrete_values` (5) distinct reference values is compared by
the counts of its values (as Evidently does), unless a numeric-only method (ks, wasserstein) is set
for it. Other types (dates, times, binary, nested) are skipped when no columns are named, and an
error when named.

Missing values (null, NaN, and infinities in numbers) are left out of the statistics; each
column reports the share of rows missing in either sample.

Speed and memory: a numeric column becomes one float64 numpy array (zero-copy where Arrow allows)
sorted once; a categorical one is counted by Arrow (`value_counts`), never turned into Python
objects row by row. Columns run on min(4, cores) threads: numpy's sorts and Arrow's kernels
release the GIL.

Windows bigger than memory: `drift_report_stream` takes any iterable of record batches (e.g.
`pyarrow.parquet.ParquetFile(path).iter_batches()`) and keeps one batch at a time;
`drift_report_dask` summarises every partition of both Dask DataFrames on the cluster and adds the
summaries up. Both summarise numeric columns in a `NumericSketch` of `config.stream_bins` (10,000)
bins cut at reference quantiles, so their KS and Wasserstein scores are binned approximations (the
column says `binned=True`); categorical counts stay exact. A Dask reference is sampled (up to
`sample_rows`) to cut the bins and to find discrete columns; its counts cover all of its rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from relayml.domain.drift_results import ColumnDrift, DriftConfig, DriftReport, Kind
from relayml.domain.drift_stats import (
    NumericSketch,
    categorical_drift,
    numeric_drift,
    sketch_drift,
)
from relayml.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

__all__ = ["drift_report", "drift_report_dask", "drift_report_stream"]

NUMERIC_ONLY = frozenset({"ks", "wasserstein"})


# ---------------------------------------------------------------- inputs and columns


def _to_table(data: Any, role: str) -> pa.Table:
    """An Arrow table of a pyarrow Table, RecordBatch or pandas DataFrame."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "dtypes") and hasattr(data, "columns"):
        try:
            return pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"the {role} DataFrame has a column Arrow cannot read: {exc}"
            ) from exc
    raise InvalidInput(
        f"the {role} data is a {type(data).__name__}; pass a pyarrow Table or a pandas DataFrame"
    )


def _kind_of(dtype: pa.DataType) -> Kind | None:
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "numeric"
    if (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
        or pa.types.is_boolean(dtype)
        or pa.types.is_dictionary(dtype)
    ):
        return "categorical"
    return None


def _plan(
    reference: pa.Schema,
    current: Sequence[str],
    columns: Sequence[str] | None,
    categorical: Iterable[str] | None,
    prediction: str | None,
) -> list[tuple[str, Kind]]:
    """The columns to compare and their declared kinds; the prediction's comes last."""
    present = set(reference.names) & set(current)
    forced = set(categorical or ())
    named = list(columns or ())
    if columns is not None and not named:
        raise InvalidInput("columns is empty: name the columns to compare, or pass None for all")
    wanted = named or [n for n in reference.names if n in present]
    if prediction is not None:
        wanted = [n for n in wanted if n != prediction] + [prediction]
    missing = sorted({n for n in [*wanted, *forced] if n not in present})
    if missing:
        raise InvalidInput(
            f"column(s) {', '.join(map(repr, missing))} not in both the reference and the "
            f"current data; columns present in both: {', '.join(sorted(present)) or '-'}"
        )
    plan: list[tuple[str, Kind]] = []
    for name in wanted:
        dtype = reference.field(name).type
        kind: Kind | None = "categorical" if name in forced else _kind_of(dtype)
        if kind is None and (name in named or name == prediction):
            raise InvalidInput(
                f"column {name!r} is {dtype}: drift is computed for numbers, strings, booleans "
                "and categories; leave it out or cast it"
            )
        if kind is not None:
            plan.append((name, kind))
    if not plan:
        raise InvalidInput("no column to compare: the two samples share no number or category")
    return plan


def _check_rows(rows: int, role: str) -> None:
    if rows == 0:
        raise InvalidInput(
            f"the {role} data has no rows: drift needs values on both sides; pick a "
            f"{'window' if role == 'current' else 'reference'} with data"
        )


def _floats(column: pa.ChunkedArray | pa.Array, name: str) -> pa.ChunkedArray | pa.Array:
    try:
        return column if column.type == pa.float64() else pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(f"column {name!r} cannot be read as numbers: {exc}") from exc


def _finite(column: pa.ChunkedArray | pa.Array, name: str) -> tuple[NDArray[np.float64], int]:
    """Sorted finite values of a numeric column as float64, and how many were missing."""
    values = np.asarray(_floats(column, name).to_numpy(), dtype=np.float64)  # nulls become NaN
    keep = np.isfinite(values)
    if keep.all():
        return np.sort(values), 0
    values = values[keep]
    values.sort()
    return values, len(column) - values.size


@dataclass
class _Part:
    """One column of one part of a sample: a sketch, or counts of values; parts add up."""

    missing: int
    sketch: NumericSketch | None = None
    values: pa.Array | None = None
    counts: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def merge(self, other: _Part) -> _Part:
        """Add another part of the same sample; returns self."""
        self.missing += other.missing
        if self.sketch is not None and other.sketch is not None:
            self.sketch.merge(other.sketch)
        elif self.values is not None and other.values is not None:
            values = pa.concat_arrays([self.values, other.values.cast(self.values.type)])
            counts = np.concatenate((self.counts, other.counts))
            summed = pa.table({"v": values, "n": counts}).group_by("v").aggregate([("n", "sum")])
            self.values = summed.column("v").combine_chunks()
            self.counts = summed.column("n_sum").to_numpy().astype(np.int64)
        return self


def _counts(column: pa.ChunkedArray | pa.Array, numbers: bool, name: str) -> _Part:
    """Counts of each value of a column (numbers as float64), and how many were missing."""
    rows = len(column)
    if numbers:
        column = _floats(column, name)
        column = column.filter(pc.is_finite(column))  # drops nulls, NaN and infinities
    counted = pc.value_counts(column)
    values = counted.field("values")
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    present = values.is_valid()
    counts = counted.field("counts").filter(present).to_numpy().astype(np.int64)
    return _Part(rows - int(counts.sum()), values=values.filter(present), counts=counts)


def _align(
    reference: _Part, current: _Part, name: str
) -> tuple[list[str], NDArray[np.int64], NDArray[np.int64]]:
    """Labels of the values seen in either sample, and both samples' counts of each."""
    assert reference.values is not None and current.values is not None
    values = current.values
    try:
        values = values.cast(reference.values.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(
            f"column {name!r} holds {reference.values.type} in the reference but "
            f"{current.values.type} in the current data"
        ) from exc
    union = pa.concat_arrays([reference.values, values]).unique()  # reference values first
    ref_counts = np.zeros(len(union), dtype=np.int64)
    ref_counts[: len(reference.values)] = reference.counts
    cur_counts = np.zeros(len(union), dtype=np.int64)
    where = pc.index_in(values, value_set=union).to_numpy(zero_copy_only=False)
    cur_counts[where.astype(np.int64)] = current.counts
    return [str(v) for v in union.to_pylist()], ref_counts, cur_counts


def _discrete(values: NDArray[np.float64], name: str, config: DriftConfig) -> bool:
    """Whether a sorted numeric reference is compared by the counts of its values."""
    if (config.methods.get(name) or config.numeric_method) in NUMERIC_ONLY:
        return False
    return values.size > 0 and int(np.count_nonzero(np.diff(values))) < config.discrete_values


def _by_counts(name: str, ref: _Part, cur: _Part, config: DriftConfig) -> ColumnDrift:
    labels, ref_counts, cur_counts = _align(ref, cur, name)
    missing = (ref.missing, cur.missing)
    return categorical_drift(name, labels, ref_counts, cur_counts, config, missing=missing)


def _report(
    results: list[ColumnDrift], prediction: str | None, config: DriftConfig, rows: tuple[int, int]
) -> DriftReport:
    return DriftReport(
        columns=tuple(results[:-1] if prediction is not None else results),
        reference_rows=rows[0],
        current_rows=rows[1],
        drift_share_threshold=config.drift_share,
        prediction=results[-1] if prediction is not None else None,
    )


# ---------------------------------------------------------------- in memory, exact


def _column(
    name: str, kind: Kind, reference: pa.Table, current: pa.Table, config: DriftConfig
) -> ColumnDrift:
    ref_col, cur_col = reference.column(name), current.column(name)
    if kind == "numeric":
        ref, ref_missing = _finite(ref_col, name)
        if not _discrete(ref, name, config):
            cur, cur_missing = _finite(cur_col, name)
            return numeric_drift(name, ref, cur, config, missing=(ref_missing, cur_missing))
    numbers = kind == "numeric"
    ref_part, cur_part = _counts(ref_col, numbers, name), _counts(cur_col, numbers, name)
    return _by_counts(name, ref_part, cur_part, config)


def drift_report(
    reference: pa.Table | pd.DataFrame,
    current: pa.Table | pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    categorical: Iterable[str] | None = None,
    prediction: str | None = None,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Drift of each column of the current data against the reference, and of the dataset."""
    config = config or DriftConfig()
    ref, cur = _to_table(reference, "reference"), _to_table(current, "current")
    _check_rows(ref.num_rows, "reference")
    _check_rows(cur.num_rows, "current")
    plan = _plan(ref.schema, cur.column_names, columns, categorical, prediction)
    with ThreadPoolExecutor(min(4, os.cpu_count() or 1), thread_name_prefix="relay-drift") as pool:
        results = list(pool.map(lambda item: _column(item[0], item[1], ref, cur, config), plan))
    return _report(results, prediction, config, (ref.num_rows, cur.num_rows))


# ---------------------------------------------------------------- streamed or on Dask, binned

_Summary = tuple[int, dict[str, _Part]]  # rows, and each column's part


@dataclass(frozen=True)
class _Spec:
    """How one column is summarised: a sketch over edges, or counts of its values."""

    name: str
    numbers: bool  # numeric data (counted as float64 when compared by counts)
    edges: NDArray[np.float64] | None = None  # set: summarised in a NumericSketch


def _specs(sample: pa.Table, plan: list[tuple[str, Kind]], config: DriftConfig) -> list[_Spec]:
    """Specs of the planned columns, from the reference or a sample of it."""
    specs = []
    for name, kind in plan:
        if kind == "categorical":
            specs.append(_Spec(name, False))
            continue
        values, _ = _finite(sample.column(name), name)
        discrete = _discrete(values, name, config)
        edges = None if discrete else NumericSketch.edges_for(values, config.stream_bins)
        specs.append(_Spec(name, True, edges))
    return specs


def _summarise(data: Any, specs: list[_Spec]) -> _Summary:
    """Rows of one part of a sample (batch, table or partition), and its column summaries."""
    table = _to_table(data, "current")
    parts: dict[str, _Part] = {}
    for spec in specs:
        column = table.column(spec.name)
        if spec.edges is None:
            parts[spec.name] = _counts(column, spec.numbers, spec.name)
            continue
        values, missing = _finite(column, spec.name)
        parts[spec.name] = _Part(missing, sketch=NumericSketch(spec.edges))
        parts[spec.name].sketch.add(values)  # type: ignore[union-attr]
    return table.num_rows, parts


def _merge(a: _Summary, b: _Summary) -> _Summary:
    return a[0] + b[0], {name: part.merge(b[1][name]) for name, part in a[1].items()}


def _finish(
    specs: list[_Spec],
    ref: _Summary,
    cur: _Summary,
    prediction: str | None,
    config: DriftConfig,
) -> DriftReport:
    _check_rows(cur[0], "current")
    results = []
    for spec in specs:
        r, c = ref[1][spec.name], cur[1][spec.name]
        if r.sketch is not None and c.sketch is not None:
            missing = (r.missing, c.missing)
            results.append(sketch_drift(spec.name, r.sketch, c.sketch, config, missing=missing))
        else:
            results.append(_by_counts(spec.name, r, c, config))
    return _report(results, prediction, config, (ref[0], cur[0]))


def drift_report_stream(
    reference: pa.Table | pd.DataFrame,
    current: Iterable[pa.RecordBatch | pa.Table | pd.DataFrame],
    *,
    columns: Sequence[str] | None = None,
    categorical: Iterable[str] | None = None,
    prediction: str | None = None,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Drift of a current window given as record batches, one batch in memory at a time."""
    config = config or DriftConfig()
    ref = _to_table(reference, "reference")
    _check_rows(ref.num_rows, "reference")
    batches = iter(current)
    first = next(batches, None)
    if first is None:
        _check_rows(0, "current")
    first = _to_table(first, "current")
    plan = _plan(ref.schema, first.column_names, columns, categorical, prediction)
    specs = _specs(ref, plan, config)
    summary = _summarise(first, specs)
    for batch in batches:
        summary = _merge(summary, _summarise(batch, specs))
    return _finish(specs, _summarise(ref, specs), summary, prediction, config)


def _tree_sum(parts: list[Any]) -> Any:
    """Pairwise merges of delayed summaries, log2(n) levels deep."""
    from dask.delayed import delayed

    merge = delayed(_merge, pure=True)
    while len(parts) > 1:
        pairs = [merge(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def drift_report_dask(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    categorical: Iterable[str] | None = None,
    prediction: str | None = None,
    config: DriftConfig | None = None,
    sample_rows: int = 1_000_000,
) -> DriftReport:
    """Drift of Dask DataFrames (the reference may also be in memory), summed per partition."""
    from dask.base import compute
    from dask.delayed import delayed

    config = config or DriftConfig()
    if hasattr(reference, "to_delayed"):
        rows = int(reference.shape[0].compute())
        _check_rows(rows, "reference")
        frac = min(1.0, sample_rows / rows)
        sample = _to_table(reference.sample(frac=frac, random_state=0).compute(), "reference")
        ref_parts = reference.to_delayed()
    else:
        sample = _to_table(reference, "reference")
        _check_rows(sample.num_rows, "reference")
        ref_parts = [delayed(sample)]
    plan = _plan(sample.schema, list(current.columns), columns, categorical, prediction)
    specs = _specs(sample, plan, config)
    summarise = delayed(_summarise, pure=True)
    ref_sum = _tree_sum([summarise(part, specs) for part in ref_parts])
    cur_sum = _tree_sum([summarise(part, specs) for part in current.to_delayed()])
    ref_total, cur_total = compute(ref_sum, cur_sum)  # type: ignore[no-untyped-call]
    return _finish(specs, ref_total, cur_total, prediction, config)
