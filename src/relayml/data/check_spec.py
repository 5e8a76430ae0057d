"""The check spec: reading it (YAML, JSON, a mapping or a file) and parsing it into rules.

A spec lists entries under ``checks`` (see :mod:`relayml.data.checks` for the format). Each entry
becomes one or more :class:`Rule`; an invalid entry is InvalidInput naming it. Evaluating the
rules on a table is :mod:`relayml.data.checks`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from relayml.data.canonical import column_kind
from relayml.domain.data import parse_dataset_ref
from relayml.errors import InvalidInput, RelayError

__all__ = ["Rule", "parse_spec", "read_spec"]

_FAMILIES: dict[str, Callable[[pa.DataType], bool]] = {
    "int": pa.types.is_integer,
    "integer": pa.types.is_integer,
    "float": pa.types.is_floating,
    "number": lambda t: column_kind(t) == "numeric",
    "numeric": lambda t: column_kind(t) == "numeric",
    "string": lambda t: column_kind(t) == "string",
    "str": lambda t: column_kind(t) == "string",
    "text": lambda t: column_kind(t) == "string",
    "category": pa.types.is_dictionary,
    "categorical": pa.types.is_dictionary,
    "bool": pa.types.is_boolean,
    "boolean": pa.types.is_boolean,
    "timestamp": pa.types.is_timestamp,
    "datetime": pa.types.is_timestamp,
    "date": pa.types.is_date,
}
_PARAMETRISED = re.compile(r"^(timestamp|decimal|dictionary|list|struct|time|duration|fixed_)")
_STRICT = ConfigDict(extra="forbid")


def _as_number(value: Any) -> Any:
    """YAML reads 1e7 as text: numbers written so become numbers."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


class _Column(BaseModel):
    model_config = _STRICT
    column: str
    name: str | None = None
    type: str | None = None
    not_null: bool | None = None
    min: float | str | None = None
    max: float | str | None = None
    allowed: list[Any] | None = Field(default=None, min_length=1)
    unique: bool | None = None
    pattern: str | None = None

    @field_validator("min", "max", mode="before")
    @classmethod
    def _numeric_text(cls, value: Any) -> Any:
        return _as_number(value)

    @model_validator(mode="after")
    def _sane(self) -> _Column:
        rules = (self.type, self.not_null, self.min, self.max, self.allowed, self.unique)
        if all(r is None for r in (*rules, self.pattern)):
            raise ValueError(
                "a column entry needs a rule: type, not_null, min, max, allowed, unique or pattern"
            )
        numbers = isinstance(self.min, float) and isinstance(self.max, float)
        if numbers and self.min > self.max:  # type: ignore[operator]
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        unknown = self.type is not None and self.type.lower() not in _FAMILIES
        if unknown and not _PARAMETRISED.match(str(self.type)):
            try:
                pa.type_for_alias(str(self.type))
            except ValueError:
                raise ValueError(f"type {self.type!r} is not an Arrow type") from None
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {self.pattern!r} is not a regular expression: {exc}"
                ) from None
        return self


class _Rows(BaseModel):
    model_config = _STRICT
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @field_validator("min", "max", mode="before")
    @classmethod
    def _numeric_text(cls, value: Any) -> Any:
        return _as_number(value)


class _Freshness(BaseModel):
    model_config = _STRICT
    column: str
    max_age_hours: float = Field(gt=0)


class _Distribution(BaseModel):
    model_config = _STRICT
    column: str
    reference: str
    max_psi: float = Field(default=0.2, gt=0)


_WHOLE = {"rows": _Rows, "freshness": _Freshness, "distribution": _Distribution}


@dataclass(frozen=True)
class Rule:
    """One check to evaluate: its kind, name, column and arguments."""

    kind: str
    name: str
    column: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


def _short(entry: Any) -> str:
    text = repr(entry)
    return text if len(text) <= 80 else text[:79] + "…"


def _problems(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _number(value: float | str) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _column_rules(entry: _Column) -> list[Rule]:
    col = entry.column
    rules: list[Rule] = []
    if entry.type is not None:
        rules.append(Rule("type", f"{col}: type {entry.type}", col, {"type": entry.type}))
    if entry.not_null:
        rules.append(Rule("not_null", f"{col}: not null", col))
    if entry.min is not None or entry.max is not None:
        if entry.min is not None and entry.max is not None:
            title = f"between {_number(entry.min)} and {_number(entry.max)}"
        elif entry.min is not None:
            title = f"at least {_number(entry.min)}"
        else:
            title = f"at most {_number(entry.max)}"  # type: ignore[arg-type]
        rules.append(Rule("range", f"{col}: {title}", col, {"min": entry.min, "max": entry.max}))
    if entry.allowed is not None:
        shown = _short(entry.allowed)
        rules.append(Rule("allowed", f"{col}: one of {shown}", col, {"values": entry.allowed}))
    if entry.unique:
        rules.append(Rule("unique", f"{col}: unique", col))
    if entry.pattern is not None:
        rules.append(
            Rule("pattern", f"{col}: matches {entry.pattern!r}", col, {"pattern": entry.pattern})
        )
    if entry.name:
        if len(rules) == 1:
            return [Rule(rules[0].kind, entry.name, col, rules[0].args)]
        return [Rule(r.kind, f"{entry.name} ({r.kind})", col, r.args) for r in rules]
    return rules


def _whole_rule(kind: str, value: Any, name: str | None) -> Rule:
    if kind == "rows":
        rows = _Rows.model_validate(value)
        if rows.min is None and rows.max is None:
            raise ValueError("rows needs min, max or both")
        if rows.min is not None and rows.max is not None and rows.min > rows.max:
            raise ValueError(f"rows: min ({rows.min}) is greater than max ({rows.max})")
        title = f"rows: between {rows.min} and {rows.max}"
        if rows.max is None:
            title = f"rows: at least {rows.min}"
        elif rows.min is None:
            title = f"rows: at most {rows.max}"
        return Rule("rows", name or title, None, rows.model_dump())
    if kind == "freshness":
        fresh = _Freshness.model_validate(value)
        title = f"{fresh.column}: newest within {fresh.max_age_hours:g} hours"
        return Rule("freshness", name or title, fresh.column, fresh.model_dump())
    dist = _Distribution.model_validate(value)
    parse_dataset_ref(dist.reference)
    title = f"{dist.column}: distribution like {dist.reference} (PSI ≤ {dist.max_psi:g})"
    return Rule("distribution", name or title, dist.column, dist.model_dump())


def _entry_rules(entry: Any) -> list[Rule]:
    if not isinstance(entry, Mapping):
        raise ValueError("an entry is a mapping such as {column: age, not_null: true}")
    whole = [k for k in entry if k in _WHOLE]
    if whole:
        extra = sorted(set(entry) - {whole[0], "name"})
        if extra or len(whole) > 1:
            raise ValueError(
                f"{whole[0]} stands alone in its entry; move {', '.join(extra + whole[1:])} "
                "to an entry of its own"
            )
        name = entry.get("name")
        return [_whole_rule(whole[0], entry[whole[0]], str(name) if name else None)]
    if "column" not in entry:
        raise ValueError(
            f"unknown check {', '.join(map(str, entry)) or '(empty)'}; an entry has a column "
            "(with type, not_null, min, max, allowed, unique, pattern), or rows, freshness "
            "or distribution"
        )
    return _column_rules(_Column.model_validate(entry))


def read_spec(spec: Any) -> dict[str, Any]:
    """The spec document from a mapping, a list of entries, YAML/JSON text or a file path."""
    import yaml

    if isinstance(spec, Path) or (
        isinstance(spec, str) and "\n" not in spec and spec.endswith((".yaml", ".yml", ".json"))
    ):
        path = Path(spec)
        if not path.is_file():
            raise InvalidInput(f"check spec file {path} does not exist.")
        spec = path.read_text(encoding="utf-8")
    if isinstance(spec, str):
        try:
            spec = yaml.safe_load(spec)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
            raise InvalidInput(f"the check spec is not valid YAML{where}: {problem}.") from None
    if isinstance(spec, list):
        spec = {"checks": spec}
    if not isinstance(spec, Mapping) or not isinstance(spec.get("checks"), list):
        raise InvalidInput(
            "a check spec is a mapping with a list under 'checks', e.g. "
            "{'checks': [{'column': 'age', 'not_null': True}]}."
        )
    extra = sorted(set(spec) - {"checks"})
    if extra:
        raise InvalidInput(f"the check spec has unknown keys: {', '.join(map(str, extra))}.")
    return {"checks": _plain(spec["checks"])}


def _plain(value: Any) -> Any:
    """YAML values made JSON (dates become ISO text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def parse_spec(spec: Any) -> list[Rule]:
    """The rules of a check spec; InvalidInput names the entry that is wrong."""
    document = read_spec(spec)
    if not document["checks"]:
        raise InvalidInput("the check spec has no checks; list at least one under 'checks'.")
    rules: list[Rule] = []
    for index, entry in enumerate(document["checks"], start=1):
        try:
            rules.extend(_entry_rules(entry))
        except ValidationError as exc:
            raise InvalidInput(f"check {index} {_short(entry)}: {_problems(exc)}.") from None
        except (ValueError, RelayError) as exc:
            message = exc.message if isinstance(exc, RelayError) else str(exc)
            raise InvalidInput(f"check {index} {_short(entry)}: {message}.") from None
    return rules
