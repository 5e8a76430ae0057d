"""The run-search filter grammar: the text users type to find and sort runs.

A filter compares run fields with values and combines the comparisons with ``and`` / ``or``::

    metrics.auc > 0.8 and params.model IN ('xgb', 'lgbm')
    status = 'FAILED' or (tags.team = 'risk' and start_time >= '2024-05-01')

Grammar (keywords are case-insensitive; ``and`` binds tighter than ``or``)::

    filter     := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := primary ("and" primary)*
    primary    := "(" or_expr ")" | comparison
    comparison := field op value
    field      := prefix "." key | attribute_name | `prefix.key`
    prefix     := metrics | params | tags | attributes
                  (metric, param, tag, attribute and attr work too)
    key        := [A-Za-z0-9_.-/:]+ | `back quoted` | "double quoted"  (quotes allow spaces)
    op         := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN     (== means =)
    value      := number | 'single quoted' | "double quoted"
                | "(" value ("," value)* ")"                            (IN and NOT IN only)

Numbers look like 3, -0.5 or 1e-3. To put a quote character inside quotes, write it twice:
'it''s'. LIKE and ILIKE (case-insensitive) take SQL patterns: % matches any run of characters,
_ exactly one.

What each field accepts::

    field                           operators                  value
    metrics.<key>                   = != < <= > >=             a number
    params.<key>, tags.<key>        = != LIKE ILIKE IN NOT IN  text (an unquoted number is kept
                                                               exactly as typed: 3 means '3')
    status                          = != IN NOT IN             RUNNING, FINISHED, FAILED or
                                                               KILLED, in any case
    run_id, name, experiment, user  = != LIKE ILIKE IN NOT IN  text
    start_time, end_time            = != < <= > >=             epoch milliseconds, or a quoted
                                                               ISO-8601 date or datetime
                                                               (no zone means UTC)
    duration                        = != < <= > >=             seconds

Attributes may be written bare (status) or with their prefix (attributes.status).

An order-by item is a field, then ASC or DESC (ASC when left out)::

    metrics.auc DESC        start_time        params.model asc        `metrics.my key` desc

Every mistake raises InvalidInput naming what was expected, the offending token and its 0-based
position, followed by the filter with a caret under that token.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, NoReturn, TypeAlias

from relayml.domain._search_lexer import WORD_RE, Token, fail_at, shorten, tokenize
from relayml.errors import InvalidInput

__all__ = [
    "ATTRIBUTES",
    "RUN_STATUSES",
    "And",
    "Comparison",
    "Expr",
    "Field",
    "FieldKind",
    "Or",
    "OrderBy",
    "fields_of",
    "format_filter",
    "parse_filter",
    "parse_order_by",
]

FieldKind = Literal["metric", "param", "tag", "attribute"]
ATTRIBUTES: frozenset[str] = frozenset(
    {"run_id", "name", "status", "experiment", "user", "start_time", "end_time", "duration"}
)
RUN_STATUSES: tuple[str, ...] = ("RUNNING", "FINISHED", "FAILED", "KILLED")

_ALL_OPS = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN")
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_TEXT_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_STATUS_OPS = ("=", "!=", "IN", "NOT IN")
_KINDS: tuple[FieldKind, ...] = ("metric", "param", "tag", "attribute")
_PLURAL: dict[FieldKind, str] = {kind: f"{kind}s" for kind in _KINDS}
_PREFIXES: dict[str, FieldKind] = {name: kind for kind in _KINDS for name in (kind, f"{kind}s")}
_PREFIXES["attr"] = "attribute"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_DEPTH = 100

_STATUS_LIST = ", ".join(repr(status) for status in RUN_STATUSES)
_ISO = "a quoted ISO-8601 date such as '2024-05-01' or '2024-05-01T12:00:00Z'"
_ValueType = Literal["number", "time", "text", "status"]


@dataclass(frozen=True)
class Field:
    """A run field: a metric, param or tag key, or an attribute name."""

    kind: FieldKind
    key: str


@dataclass(frozen=True)
class Comparison:
    """One field-operator-value test."""

    field: Field
    op: str
    value: float | str | tuple[str, ...] | tuple[float, ...]


@dataclass(frozen=True)
class And:
    """All items must hold."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """At least one item must hold."""

    items: tuple[Expr, ...]


Expr: TypeAlias = Comparison | And | Or


@dataclass(frozen=True)
class OrderBy:
    """One sort key of a run search."""

    field: Field
    descending: bool


def _rule(field: Field) -> tuple[_ValueType, tuple[str, ...], str, str]:
    """A field's value type, its operators, what it is, and the value it wants."""
    name = _format_field(field)
    if field.kind == "metric":
        wanted = f"a number for {name}: metrics are numbers (text belongs in params or tags)"
        return "number", _NUMBER_OPS, "metrics are numbers", wanted
    if field.kind != "attribute":
        nature = f"{_PLURAL[field.kind]} are text (log values to compare as numbers as metrics)"
        return "text", _TEXT_OPS, nature, f"text in quotes for {name}, such as 'abc'"
    if field.key == "status":
        return "status", _STATUS_OPS, "status is a run status", f"a run status: {_STATUS_LIST}"
    if field.key == "duration":
        return "number", _NUMBER_OPS, "duration is in seconds", "a number of seconds for duration"
    if field.key in ("start_time", "end_time"):
        wanted = f"a time for {name}: epoch milliseconds or {_ISO}"
        return "time", _NUMBER_OPS, f"{name} is a time", wanted
    return "text", _TEXT_OPS, f"{name} is text", f"text in quotes for {name}, such as 'abc'"


def _epoch_ms(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) / timedelta(milliseconds=1)


def _join(kind: type[And] | type[Or], items: list[Expr]) -> Expr:
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


class _Parser:
    def __init__(self, source: str, label: str) -> None:
        self.source, self.label = source, label
        self.tokens = tokenize(source, label)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.lower() in words

    def fail(self, token: Token, message: str) -> NoReturn:
        found = f"the end of the {self.label}" if token.kind == "end" else shorten(token.text)
        fail_at(self.source, self.label, token.pos, message, found)

    def after(self, token: Token) -> str:
        index = self.tokens.index(token)
        return f" after {self.tokens[index - 1].text!r}" if index else ""

    def or_expr(self, depth: int) -> Expr:
        items = [self.and_expr(depth)]
        while self.is_word("or"):
            self.take()
            items.append(self.and_expr(depth))
        return _join(Or, items)

    def and_expr(self, depth: int) -> Expr:
        items = [self.primary(depth)]
        while self.is_word("and"):
            self.take()
            items.append(self.primary(depth))
        return _join(And, items)

    def primary(self, depth: int) -> Expr:
        opening = self.peek()
        if opening.kind != "(":
            return self.comparison()
        if depth >= _MAX_DEPTH:
            self.fail(opening, f"parentheses nest deeper than {_MAX_DEPTH} levels")
        self.take()
        expr = self.or_expr(depth + 1)
        closing = self.take()
        where = f"')' to close the '(' at position {opening.pos}"
        if closing.kind == "end":
            self.fail(closing, f"unbalanced parentheses: expected {where}")
        if closing.kind != ")":
            self.fail(closing, f"expected 'and', 'or' or {where}")
        return expr

    def comparison(self) -> Comparison:
        first = self.peek()
        field = self.field(f"expected a comparison such as metrics.auc > 0.8{self.after(first)}")
        shown = self.source[first.pos : self.peek().pos].rstrip()
        op_token = self.peek()
        op = self.operator(shown)
        _, allowed, nature, _ = _rule(field)
        if op not in allowed:
            name, ops = _format_field(field), ", ".join(allowed)
            self.fail(op_token, f"{nature}, so '{op}' cannot be used on {name}; use one of {ops}")
        if op not in ("IN", "NOT IN"):
            return Comparison(field, op, self.value(field))
        opening = self.take()
        if opening.kind != "(":
            self.fail(opening, f"expected '(' to start the list of values after {op}")
        if self.peek().kind == ")":
            self.fail(self.peek(), f"expected at least one value in the {op} list")
        values: list[str] = []
        while True:
            value = self.value(field)
            assert isinstance(value, str)  # IN / NOT IN are only allowed on text fields
            values.append(value)
            token = self.take()
            if token.kind == ")":
                return Comparison(field, op, tuple(values))
            if token.kind != ",":
                where = f"the {op} list that starts at position {opening.pos}"
                self.fail(token, f"expected ',' or ')' in {where}")

    def field(self, expected: str) -> Field:
        token = self.take()
        if token.kind in ("bquoted", "dquoted"):
            name = token.value
        elif token.kind == "word" and token.text.lower() not in ("and", "or"):
            name = token.text
            following = self.peek()
            if name.endswith(".") and name.count(".") == 1:
                adjacent = following.pos == token.pos + len(name)
                if not (adjacent and following.kind in ("bquoted", "dquoted")):
                    self.fail(following, f"expected a key after {name!r}, e.g. {name}auc")
                name += self.take().value
        elif token.kind == "string":
            self.fail(token, f"{expected}; quote field names with `backquotes`, not 'quotes'")
        else:
            self.fail(token, expected)
        if "." not in name:
            return self.attribute(token, name, bare=True)
        prefix, key = name.split(".", 1)
        kind = _PREFIXES.get(prefix.lower())
        if kind is None:
            guess = difflib.get_close_matches(prefix.lower(), list(_PREFIXES), n=1)
            hint = f" (did you mean {_PLURAL[_PREFIXES[guess[0]]]}.{key}?)" if guess else ""
            message = (
                f"unknown field {name!r}{hint}: a field is metrics.<key>, params.<key>, "
                f"tags.<key>, attributes.<name> or an attribute name such as status"
            )
            self.fail(token, message)
        if not key:
            self.fail(token, f"expected a key after {prefix}. inside the quotes")
        return self.attribute(token, key, bare=False) if kind == "attribute" else Field(kind, key)

    def attribute(self, token: Token, name: str, bare: bool) -> Field:
        if name.lower() in ATTRIBUTES:
            return Field("attribute", name.lower())
        if bare and name.lower() in _PREFIXES:
            self.fail(token, f"expected a key after {name!r}, e.g. {name}.auc")
        guess = difflib.get_close_matches(name.lower(), sorted(ATTRIBUTES), n=1)
        hint = f" (did you mean {guess[0]}?)" if guess else ""
        valid = ", ".join(sorted(ATTRIBUTES))
        if not bare:
            self.fail(token, f"unknown attribute {name!r}{hint}; valid attributes are {valid}")
        message = (
            f"unknown field {name!r}{hint}: attributes are {valid}; for a metric, param or "
            f"tag write metrics.{name}, params.{name} or tags.{name}"
        )
        self.fail(token, message)

    def operator(self, shown: str) -> str:
        token = self.take()
        word = token.text.lower() if token.kind == "word" else ""
        if token.kind == "op":
            return token.value
        if word in ("like", "ilike", "in"):
            return word.upper()
        if word == "not":
            if self.is_word("in"):
                self.take()
                return "NOT IN"
            self.fail(self.peek(), "expected IN after NOT (NOT IN is the only negated operator)")
        self.fail(token, f"expected an operator ({', '.join(_ALL_OPS)}) after {shown!r}")

    def value(self, field: Field) -> float | str:
        token = self.take()
        vtype, _, _, wanted = _rule(field)
        if token.kind not in ("number", "string", "dquoted"):
            hint = f"; put text in quotes: '{token.text}'" if token.kind == "word" else ""
            self.fail(token, f"expected a value{self.after(token)}, {wanted}{hint}")
        if token.kind == "number" and vtype in ("number", "time"):
            number = float(token.text)
            if not math.isfinite(number):
                self.fail(token, "expected a number of a size a float can hold")
            return number
        if vtype == "text":
            return token.value
        if vtype == "status" and token.kind != "number" and token.value.upper() in RUN_STATUSES:
            return token.value.upper()
        if vtype == "time" and token.kind != "number":
            moment = _epoch_ms(token.value)
            if moment is not None:
                return moment
        self.fail(token, f"expected {wanted}")


def parse_filter(text: str | None) -> Expr | None:
    """Parse and type-check a run filter; None or blank text means no filter."""
    if text is None or not text.strip():
        return None
    parser = _Parser(text, "filter")
    expr = parser.or_expr(0)
    token = parser.peek()
    if token.kind == ")":
        parser.fail(token, "unbalanced parentheses: this ')' has no matching '('")
    if token.kind != "end":
        parser.fail(token, f"expected 'and', 'or' or the end of the filter{parser.after(token)}")
    return expr


def parse_order_by(items: Sequence[str] | None) -> list[OrderBy]:
    """Parse order-by items such as 'metrics.auc DESC'; None or empty means no ordering."""
    if isinstance(items, str):
        items = [items]
    result: list[OrderBy] = []
    for item in items or ():
        if not isinstance(item, str):
            raise InvalidInput(f"order_by items must be text like 'metrics.auc DESC', not {item!r}")
        parser = _Parser(item, "order_by item")
        field = parser.field("expected a field such as metrics.auc or start_time")
        token = parser.take()
        descending = False
        if token.kind == "word" and token.text.lower() in ("asc", "desc"):
            descending = token.text.lower() == "desc"
            token = parser.take()
            if token.kind != "end":
                parser.fail(token, "expected the end of the order_by item after ASC/DESC")
        elif token.kind != "end":
            shown = item[: token.pos].rstrip()
            parser.fail(token, f"expected ASC or DESC after {shown!r}")
        result.append(OrderBy(field, descending))
    return result


def _format_field(field: Field) -> str:
    if field.kind == "attribute" and field.key in ATTRIBUTES:
        return field.key
    key = field.key
    if not WORD_RE.fullmatch(key):
        key = "`" + key.replace("`", "``") + "`"
    return f"{_PLURAL[field.kind]}.{key}"


def _format_scalar(value: float | str) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value))


def format_filter(expr: Expr) -> str:
    """Write an expression as canonical filter text that parse_filter reads back unchanged."""
    if isinstance(expr, Comparison):
        value = expr.value
        if isinstance(value, tuple):
            text = "(" + ", ".join(_format_scalar(v) for v in value) + ")"
        else:
            text = _format_scalar(value)
        return f"{_format_field(expr.field)} {expr.op} {text}"
    if not expr.items:
        raise ValueError(f"{type(expr).__name__} needs at least one item")
    if isinstance(expr, And):
        return " and ".join(
            f"({format_filter(item)})" if isinstance(item, Or) else format_filter(item)
            for item in expr.items
        )
    return " or ".join(format_filter(item) for item in expr.items)


def fields_of(expr: Expr | None) -> set[Field]:
    """Return every field a filter mentions."""
    if expr is None:
        return set()
    if isinstance(expr, Comparison):
        return {expr.field}
    found: set[Field] = set()
    for item in expr.items:
        found |= fields_of(item)
    return found
