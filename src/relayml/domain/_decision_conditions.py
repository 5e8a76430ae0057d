"""The conditions of decision tables: reading one condition's text, and testing a column with it.

Vectorised: a condition becomes a boolean mask over a column (numpy/pandas), never a loop per
row. The syntax is documented in relayml.domain.decisions.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from relayml.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Kind = Literal["number", "text", "bool"]
_OPS_HELP = "use >=, >, <=, <, ==, !=, in [...], not in [...], [0.4, 0.7), is null or any"
_SYMBOLS = re.compile(r"^([<>=!~≥≤≠]+)\s*(.*)$", re.S)
_WORD_OPS = re.compile(r"^(not|between|is)\b", re.I)
_LIST = re.compile(r"^(not\s+in|in)\b\s*(.*)$", re.I | re.S)
_INTERVAL = re.compile(r"^([\[(\]])(.*?)(\.\.|,)(.*)([\])\[])$", re.S)


class BadCondition(Exception):
    """A condition's text cannot be read; the message completes 'condition "f: t" ...'."""


@dataclass(frozen=True)
class ConditionTest:
    op: str  # any, is null, is not null, >=, >, <=, <, ==, !=, in, not in, between
    kind: Kind | None = None
    values: tuple[Any, ...] = ()
    closed: tuple[bool, bool] = (True, True)


def _literal(token: str) -> tuple[Kind, Any]:
    tok = token.strip()
    if len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "\"'" and tok[0] not in tok[1:-1]:
        return "text", tok[1:-1]
    if not tok:
        raise BadCondition("has an empty value")
    if tok.lower() in ("true", "false"):
        return "bool", tok.lower() == "true"
    try:
        number = float(tok)
    except ValueError:
        if re.search(r"[\"'\[\](),]", tok):
            raise BadCondition(f'cannot read the value {tok}; quote text, e.g. "a, b"') from None
        return "text", tok
    if math.isnan(number):
        raise BadCondition("compares with NaN, which never matches; use is null")
    return "number", number


def _number(token: str) -> float | None:
    try:
        kind, value = _literal(token)
    except BadCondition:
        return None
    return float(value) if kind == "number" else None


def _split(inner: str) -> list[str]:
    items: list[str] = []
    buf = quote = ""
    for ch in inner:
        if quote or ch in "\"'":
            quote = "" if ch == quote else quote or ch
        elif ch == ",":
            items, buf = [*items, buf], ""
            continue
        buf += ch
    return [*items, buf] if inner.strip() else []


@functools.lru_cache(maxsize=4096)
def compile_condition(text: str) -> ConditionTest:
    t = text.strip()
    if t.lower() in ("any", "-", "is null", "is not null"):
        return ConditionTest("any" if t == "-" else t.lower())
    if not t:
        raise BadCondition("is empty; write any (or -) for no condition")
    if m := _LIST.match(t):
        op, body = "in" if m.group(1).lower() == "in" else "not in", m.group(2).strip()
        if not (body.startswith("[") and body.endswith("]")):
            raise BadCondition(f"needs its values in brackets, e.g. {op} [a, b]")
        items = [_literal(item) for item in _split(body[1:-1])]
        if not (kinds := {kind for kind, _ in items}):
            raise BadCondition(f"lists no values; write e.g. {op} [a, b]")
        if len(kinds) > 1:
            raise BadCondition("mixes numbers, text and booleans; quote numbers meant as text")
        return ConditionTest(op, kinds.pop(), tuple(v for _, v in items))
    if m := _SYMBOLS.match(t):
        symbol, rest = m.groups()
        if symbol not in (">=", ">", "<=", "<", "==", "!="):
            raise BadCondition(f'uses an unknown operator "{symbol}"; {_OPS_HELP}')
        kind, value = _literal(rest)
        if symbol not in ("==", "!=") and kind != "number":
            raise BadCondition(f"compares {kind} with {symbol}, which needs a number; use ==")
        return ConditionTest(symbol, kind, (value,))
    if t[0] in "[(]":
        m = _INTERVAL.match(t)
        lo, hi = (_number(m.group(2)), _number(m.group(4))) if m else (None, None)
        if m is None or lo is None or hi is None:
            raise BadCondition(
                "is not a valid interval: write two numbers with [ ] for closed and ( ) for open "
                "ends, e.g. [0.4, 0.7); for a list of values write in [a, b]"
            )
        closed = (m.group(1) == "[", m.group(5) == "]")
        if lo > hi or (lo == hi and not all(closed)):
            raise BadCondition(f"is not a valid interval: no number from {lo:g} to {hi:g}")
        return ConditionTest("between", "number", (lo, hi), closed)
    if _WORD_OPS.match(t):
        raise BadCondition(f'uses an unknown operator "{t.split()[0]}"; {_OPS_HELP}')
    kind, value = _literal(t)
    return ConditionTest("==", kind, (value,))


def _numbers(raw: npt.NDArray[Any], missing: npt.NDArray[np.bool_], where: str) -> Any:
    import numpy as np
    import pandas as pd

    if raw.dtype.kind in "biuf":
        return raw.astype(np.float64)
    series = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce")
    nums = series.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(nums) & ~missing
    if bad.any():
        raise InvalidInput(f"{where} needs numbers, but the data holds {raw[bad][0]!r}; use ==")
    return nums


def column_mask(test: ConditionTest, raw: npt.NDArray[Any], where: str) -> npt.NDArray[np.bool_]:
    import numpy as np
    import pandas as pd

    missing = np.asarray(pd.isna(raw), dtype=bool)
    op, v = test.op, test.values
    if op in ("any", "is null", "is not null"):
        return {"any": np.ones_like(missing), "is null": missing}.get(op, ~missing)
    if test.kind == "number":
        x = _numbers(raw, missing, where)
        if op == "between":
            lo = x >= v[0] if test.closed[0] else x > v[0]
            return np.asarray(lo & (x <= v[1] if test.closed[1] else x < v[1]))
        compare = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}
        if op in compare:
            return np.asarray(compare[op](x, v[0]))
        hit = np.isin(x, np.asarray(v, dtype=np.float64))
    elif raw.dtype.kind in "iuf" and raw.size:
        raise InvalidInput(f"{where} compares with {test.kind}, but the data holds numbers")
    else:
        hit = pd.Series(raw.astype(object), dtype=object).isin(list(v)).to_numpy(dtype=bool)
    return np.asarray(hit if op in ("==", "in") else ~hit & ~missing)
