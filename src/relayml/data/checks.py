"""Declarative data checks: a spec (YAML or JSON), its evaluation on a table, and run_checks.

    checks:
      - {column: age, type: int64}            # exact Arrow type, or int, float, number,
      - {column: age, not_null: true}         #   string, category, bool, timestamp, date
      - {column: age, min: 0, max: 120}       # numbers, or ISO dates for date/time columns
      - {column: plan, allowed: [a, b]}
      - {column: id, unique: true}
      - {column: email, pattern: "@"}         # a regular expression found in each value
      - rows: {min: 100, max: 1e7}
      - freshness: {column: ts, max_age_hours: 24}
      - distribution: {column: age, reference: customers@2, max_psi: 0.2}

An entry may carry a ``name``. Each rule gives one CheckOutcome with the number of failing rows
and up to 5 of them. A column the data lacks fails its checks (the detail lists the columns);
an invalid spec is InvalidInput naming the entry. Nulls fail only ``not_null`` (NaN counts as
null there); the distribution is compared with the reference version's stored profile.
Reading and parsing the spec into rules lives in :mod:`relayml.data.check_spec`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from relayml.data.canonical import column_kind
from relayml.data.check_spec import _FAMILIES, _PARAMETRISED, Rule, _number, parse_spec, read_spec
from relayml.data.sources import DataBackend, load_dataset
from relayml.domain.data import CheckOutcome, DataCheckReport
from relayml.errors import RelayError

__all__ = ["Rule", "evaluate_checks", "parse_spec", "psi", "read_spec", "run_checks"]

EXAMPLES = 5
_EXAMPLE_COLUMNS = 12


# -- evaluation ------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Decimal | timedelta):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _mask(values: Any) -> np.ndarray:
    """A boolean pyarrow result as a numpy mask (null counts as False)."""
    filled = pc.fill_null(values, False)
    result: np.ndarray = np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)
    return result


def _examples(table: pa.Table, mask: np.ndarray, column: str) -> list[dict[str, Any]]:
    rows = np.flatnonzero(mask)[:EXAMPLES]
    others = [n for n in table.column_names if n != column][: _EXAMPLE_COLUMNS - 1]
    picked = table.select([column, *others]).take(pa.array(rows, type=pa.int64())).to_pylist()
    return [
        {"_row": int(i), **{k: _jsonable(v) for k, v in row.items()}}
        for i, row in zip(rows, picked, strict=True)
    ]


def _rows_outcome(rule: Rule, table: pa.Table, mask: np.ndarray, what: str) -> CheckOutcome:
    failing = int(mask.sum())
    detail = f"{failing} of {table.num_rows} rows {what}." if failing else "every row passes."
    return CheckOutcome(
        name=rule.name,
        column=rule.column,
        passed=failing == 0,
        failing_rows=failing,
        examples=_examples(table, mask, rule.column or "") if failing else [],
        detail=detail,
    )


def _outcome(rule: Rule, passed: bool, detail: str) -> CheckOutcome:
    return CheckOutcome(name=rule.name, column=rule.column, passed=passed, detail=detail)


def _plain_values(column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
    if pa.types.is_decimal(column.type):
        column = column.cast(pa.float64())
    return column


def _check_type(rule: Rule, column: pa.ChunkedArray) -> CheckOutcome:
    expected: str = rule.args["type"]
    family = _FAMILIES.get(expected.lower())
    if family is not None:
        passed = family(column.type)
    else:
        passed = str(column.type) == expected
        if not passed and not _PARAMETRISED.match(expected):
            passed = str(pa.type_for_alias(expected)) == str(column.type)
    detail = f"{rule.column} is {column.type}" + ("." if passed else f", not {expected}.")
    return _outcome(rule, passed, detail)


def _bound(value: float | str, kind: pa.DataType) -> pa.Scalar:
    if pa.types.is_timestamp(kind):
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if kind.tz is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        elif kind.tz is None and moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return pa.scalar(moment, type=kind)
    if pa.types.is_date(kind):
        return pa.scalar(date.fromisoformat(str(value)[:10]), type=kind)
    if pa.types.is_time(kind):
        return pa.scalar(time.fromisoformat(str(value)), type=kind)
    return pa.scalar(float(value))


def _check_range(rule: Rule, table: pa.Table, column: pa.ChunkedArray) -> CheckOutcome:
    values = _plain_values(column)
    kind = column_kind(values.type)
    low, high = rule.args["min"], rule.args["max"]
    if kind not in ("numeric", "temporal"):
        return _outcome(
            rule, False, f"a range needs numbers or dates; {rule.column} is {column.type}."
        )
    try:
        outside = None
        if low is not None:
            outside = pc.less(values, _bound(low, values.type))
        if high is not None:
            above = pc.greater(values, _bound(high, values.type))
            outside = above if outside is None else pc.or_(outside, above)
    except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        return _outcome(rule, False, f"the bounds do not compare with {column.type}: {exc}.")
    low_text = _number(low) if low is not None else "-∞"
    shown = f"[{low_text}, {_number(high) if high is not None else '∞'}]"
    return _rows_outcome(rule, table, _mask(outside), f"are outside {shown}")


def _check_allowed(rule: Rule, table: pa.Table, column: pa.ChunkedArray) -> CheckOutcome:
    values = _plain_values(column)
    accepted = []
    for value in rule.args["values"]:
        try:
            accepted.append(pa.scalar(value).cast(values.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            continue  # a value the column cannot hold matches nothing
    value_set = pa.array([s.as_py() for s in accepted], type=values.type)
    outside = pc.and_(pc.invert(pc.is_in(values, value_set=value_set)), pc.is_valid(values))
    return _rows_outcome(rule, table, _mask(outside), "hold other values")


def _check_unique(rule: Rule, table: pa.Table, column: pa.ChunkedArray) -> CheckOutcome:
    values = _plain_values(column)
    counted = pc.value_counts(values.drop_null())
    repeated = counted.filter(pc.greater(counted.field("counts"), 1))
    mask = _mask(pc.is_in(values, value_set=repeated.field("values")))
    what = f"share {len(repeated)} repeated value{'s' if len(repeated) != 1 else ''}"
    if len(repeated):
        top = int(np.argmax(repeated.field("counts").to_numpy(zero_copy_only=False)))
        value = _jsonable(repeated.field("values")[top].as_py())
        what += f" ({value!r} appears {repeated.field('counts')[top].as_py()} times)"
    return _rows_outcome(rule, table, mask, what)


def _check_pattern(rule: Rule, table: pa.Table, column: pa.ChunkedArray) -> CheckOutcome:
    values = _plain_values(column)
    if column_kind(values.type) != "string":
        return _outcome(
            rule, False, f"a pattern needs a text column; {rule.column} is {column.type}."
        )
    try:
        found = pc.match_substring_regex(values, rule.args["pattern"])
    except pa.ArrowInvalid as exc:
        return _outcome(rule, False, f"the pattern does not compile: {exc}.")
    missing = pc.and_(pc.invert(found), pc.is_valid(values))
    return _rows_outcome(rule, table, _mask(missing), f"do not match {rule.args['pattern']!r}")


def _check_rows(rule: Rule, table: pa.Table) -> CheckOutcome:
    low, high, rows = rule.args["min"], rule.args["max"], table.num_rows
    passed = (low is None or rows >= low) and (high is None or rows <= high)
    limits = " and ".join(
        text
        for text in (
            f"at least {low}" if low is not None else "",
            f"at most {high}" if high is not None else "",
        )
        if text
    )
    return _outcome(rule, passed, f"{rows} rows" + ("." if passed else f"; expected {limits}."))


def _check_freshness(rule: Rule, column: pa.ChunkedArray, now: datetime) -> CheckOutcome:
    values = _plain_values(column)
    if column_kind(values.type) == "string":
        try:
            values = values.cast(pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _outcome(rule, False, f"{rule.column} holds text that is not timestamps.")
    if not (pa.types.is_timestamp(values.type) or pa.types.is_date(values.type)):
        return _outcome(
            rule, False, f"freshness needs a timestamp or date; {rule.column} is {column.type}."
        )
    newest = pc.max(values).as_py()
    if newest is None:
        return _outcome(rule, False, f"{rule.column} has no values.")
    if not isinstance(newest, datetime):
        newest = datetime.combine(newest, time.min)
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    age = (now - newest).total_seconds() / 3600
    limit = rule.args["max_age_hours"]
    passed = age <= limit
    detail = f"the newest {rule.column} is {newest.isoformat()}, {age:.1f} hours old"
    return _outcome(rule, passed, detail + ("." if passed else f"; the limit is {limit:g} hours."))


def psi(expected: Any, actual: Any, floor: float = 1e-4) -> float:
    """Population stability index of two count vectors over the same bins."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    e = np.maximum(e / max(e.sum(), 1.0), floor)
    a = np.maximum(a / max(a.sum(), 1.0), floor)
    return float(np.sum((a - e) * np.log(a / e)))


def _bins(reference: dict[str, Any], values: pa.ChunkedArray) -> tuple[list[float], np.ndarray]:
    kind = column_kind(values.type)
    ref_kind = reference.get("kind")
    if ref_kind == "numeric" and kind == "numeric":
        histogram = reference.get("histogram")
        if not histogram:
            raise ValueError("the reference column has no values")
        edges = [float(e) for e in histogram["edges"]]
        expected = [float(c) for c in histogram["counts"]]
        cuts = edges[1:-1]
        if len(edges) == 2:  # one value: below it, it, above it
            cuts = [edges[0], float(np.nextafter(edges[0], np.inf))]
            expected = [0.0, expected[0], 0.0]
        x = values.drop_null().cast(pa.float64()).to_numpy()
        x = x[np.isfinite(x)]
        actual = np.bincount(np.searchsorted(cuts, x, side="right"), minlength=len(expected))
        return expected, actual
    if ref_kind == kind == "boolean":
        present = values.drop_null()
        true = int(pc.sum(present).as_py() or 0)
        return [float(reference["false"]), float(reference["true"])], np.array(
            [len(present) - true, true]
        )
    if ref_kind == kind == "string":
        top = reference.get("top") or []
        known = [t["value"] for t in top]
        expected = [float(t["count"]) for t in top]
        expected.append(float(reference["count"]) - sum(expected))
        present = values.drop_null()
        index = pc.index_in(present, value_set=pa.array(known, type=pa.string()))
        codes = pc.fill_null(index, len(known)).to_numpy(zero_copy_only=False)
        return expected, np.bincount(codes, minlength=len(known) + 1)
    raise ValueError(f"the reference column is {ref_kind}, this one is {kind}; they do not compare")


def _check_distribution(
    rule: Rule, column: pa.ChunkedArray, reference: Callable[[str], dict[str, Any]] | None
) -> CheckOutcome:
    ref = rule.args["reference"]
    if reference is None:
        return _outcome(rule, False, "no reference versions can be looked up here.")
    try:
        profile = reference(ref)
    except RelayError as exc:
        return _outcome(rule, False, f"reference {ref}: {exc.message}")
    ref_column = (profile.get("columns") or {}).get(rule.column)
    if ref_column is None:
        return _outcome(rule, False, f"reference {ref} has no column {rule.column!r}.")
    try:
        expected, actual = _bins(ref_column, _plain_values(column))
    except ValueError as exc:
        return _outcome(rule, False, f"{exc}.")
    if not np.sum(actual):
        return _outcome(rule, False, f"{rule.column} has no values to compare.")
    value = psi(expected, actual)
    limit = rule.args["max_psi"]
    passed = value <= limit
    detail = f"PSI {value:.4f} against {ref} ({'within' if passed else 'over'} {limit:g})."
    return _outcome(rule, passed, detail)


def _evaluate(
    rule: Rule,
    table: pa.Table,
    reference: Callable[[str], dict[str, Any]] | None,
    now: datetime,
) -> CheckOutcome:
    if rule.kind == "rows":
        return _check_rows(rule, table)
    assert rule.column is not None
    if rule.column not in table.column_names:
        columns = ", ".join(table.column_names[:40])
        more = f" (+{table.num_columns - 40} more)" if table.num_columns > 40 else ""
        return _outcome(
            rule,
            False,
            f"column {rule.column!r} is missing; the data has columns: {columns}{more}.",
        )
    column = table.column(rule.column)
    if rule.kind == "type":
        return _check_type(rule, column)
    if rule.kind == "not_null":
        mask = _mask(pc.is_null(column, nan_is_null=True))
        return _rows_outcome(rule, table, mask, "are null or NaN")
    if rule.kind == "freshness":
        return _check_freshness(rule, column, now)
    if rule.kind == "distribution":
        return _check_distribution(rule, column, reference)
    checks = {
        "range": _check_range,
        "allowed": _check_allowed,
        "unique": _check_unique,
        "pattern": _check_pattern,
    }
    return checks[rule.kind](rule, table, column)


def evaluate_checks(
    table: pa.Table,
    spec: Any,
    *,
    reference: Callable[[str], dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> list[CheckOutcome]:
    """One outcome per rule of the spec (or of a list of parsed rules), in order."""
    rules = spec if isinstance(spec, list) and all(isinstance(r, Rule) for r in spec) else None
    rules = rules or parse_spec(spec)
    moment = now or datetime.now(UTC)
    outcomes = []
    for rule in rules:
        try:
            outcomes.append(_evaluate(rule, table, reference, moment))
        except (pa.ArrowException, ValueError, TypeError) as exc:
            outcomes.append(_outcome(rule, False, f"could not be evaluated: {exc}"))
    return outcomes


def run_checks(
    backend: DataBackend, project: str, ref: str, spec: Any, *, now: datetime | None = None
) -> DataCheckReport:
    """Evaluate a spec on a dataset version (loaded here) and store the report."""
    document = read_spec(spec)
    rules = parse_spec(document)
    version = backend.get_dataset_version(project, ref)
    table = load_dataset(backend, project, version.ref, as_="arrow")
    profiles: dict[str, dict[str, Any]] = {}

    def reference(name: str) -> dict[str, Any]:
        if name not in profiles:
            profiles[name] = backend.get_dataset_version(project, name).profile
        return profiles[name]

    outcomes = evaluate_checks(table, rules, reference=reference, now=now)
    return backend.record_data_check(project, version.ref, document, outcomes)
