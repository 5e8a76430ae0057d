"""Decision tables: ordered rules, owned by subject-matter experts, that turn a model's outputs and
input fields into a business action (DMN style). Parsing and vectorised evaluation; no I/O.

Document (YAML or JSON)::

    hit_policy: first            # first (default) | priority | collect | unique
    default: no action           # action when no rule matches; omit or null for none
    rules:                       # each rule: name (unique), when, action; description optional
      - name: save the valuable
        when: {score: ">= 0.7", monthly: ">= 80"}    # every condition must hold (AND)
        action: call
        priority: 1              # hit_policy priority only, then on every rule: 1 beats 2
      - name: nudge
        when: {score: "[0.4, 0.7)", plan: "in [basic, plus]"}
        action: email
      - {name: everyone else, action: newsletter}    # no `when`: matches every row

Fields are model outputs (``score``: probability of the positive class, ``prediction``: the
predicted label) and input columns. A condition on a field is one of:
``>= 0.7``, ``> 0.7``, ``<= 0.7``, ``< 0.7`` (numbers only); ``== x``, ``!= x`` (x a number,
true/false or text, bare or "quoted"); ``in [a, b]``, ``not in [a, b]`` (numbers, texts or
booleans); a numeric interval, DMN style: ``[ ]`` closed ends, ``( )`` or outward brackets open
ends, ``,`` or ``..`` between the bounds, so ``[0.4, 0.7)`` and ``[0.4..0.7[`` both mean
0.4 <= x < 0.7; ``is null``, ``is not null``; ``any`` or ``-`` (no condition);
a bare value (``basic``, ``12``, ``true``) means ``== value``. YAML reads ``>``, ``!``, ``[`` and
``{`` at the start of a value as syntax, so quote such conditions; a YAML list as a condition is
refused as ambiguous: write ``"in [0.4, 0.7]"`` or the interval ``"[0.4, 0.7]"``.

Missing values (None, NaN, pd.NA) match only ``any``, ``-`` and ``is null``: never a comparison,
an interval, ``==``, ``!=``, ``in`` or ``not in``.

Hit policies, for rows that several rules match:
- first: the first matching rule in document order decides.
- priority: the matching rule with the smallest ``priority`` decides; ties go to document order.
- unique: at most one rule may match. Rows matching several get no action (None), rule CONFLICT
  (-2) and a RowError in DecisionResult.errors; the other rows are decided normally, so a server
  still answers them. Batch jobs that want to fail call DecisionResult.raise_for_errors().
- collect: every matching action, in document order (duplicates kept), in
  DecisionResult.collected, or [default] ([] without one) when none matches; ``actions`` and
  ``rule`` hold the first matching rule, as with first.

Rows that no rule matches get the default action (or None) and rule NO_MATCH (-1). Messages number
rules from 1, as an SME reads the document; DecisionResult.rule holds 0-based indices.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from relayml.domain._decision_conditions import (
    BadCondition,
    ConditionTest,
    column_mask,
    compile_condition,
)
from relayml.errors import InvalidInput

if TYPE_CHECKING:
    # Reading and checking a table needs neither; applying one (decide) imports them.
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

NO_MATCH = -1  # DecisionResult.rule of a row that no rule matches
CONFLICT = -2  # DecisionResult.rule of a row that several rules match under hit_policy unique
HitPolicy = Literal["first", "priority", "collect", "unique"]
HIT_POLICIES: tuple[HitPolicy, ...] = ("first", "priority", "collect", "unique")
_TABLE_KEYS = ("hit_policy", "default", "description", "rules")
_RULE_KEYS = ("name", "when", "action", "priority", "description")
_HIT_KEYS = ("number", "name", "action", "matches", "decides", "share", "overlaps")


class Condition(BaseModel):
    """One field's condition as the SME wrote it, e.g. field "score" and text ">= 0.7"."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    field: str
    text: str


class Rule(BaseModel):
    """One rule: conditions that must all hold, and the action they lead to."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    when: tuple[Condition, ...] = ()
    action: str
    priority: int | None = None
    description: str = ""


class DecisionTable(BaseModel):
    """A validated decision table; see the module docstring for the format."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    rules: tuple[Rule, ...]
    hit_policy: HitPolicy = "first"
    default: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> DecisionTable:
        _check_table(self)
        return self

    @property
    def fields(self) -> list[str]:
        """The fields that the rules' conditions use, sorted."""
        return sorted({c.field for rule in self.rules for c in rule.when})

    @classmethod
    def from_document(cls, doc: Any) -> DecisionTable:
        """Build a table from a parsed YAML/JSON document, with messages an SME can act on."""
        if not isinstance(doc, Mapping):
            raise InvalidInput("a decision table is a mapping with hit_policy, default and rules")
        _no_unknown_keys("the decision table", doc, _TABLE_KEYS)
        policy = doc.get("hit_policy") or "first"
        if str(policy).strip().lower() not in HIT_POLICIES:
            raise InvalidInput(f'unknown hit_policy "{policy}"; use {", ".join(HIT_POLICIES)}')
        rules = doc.get("rules")
        if not isinstance(rules, list) or not rules:
            raise InvalidInput("the decision table has no rules; list them under rules:")
        return cls(
            rules=tuple(_rule_from_document(i, raw) for i, raw in enumerate(rules)),
            hit_policy=str(policy).strip().lower(),
            default=_text("default", doc.get("default"), optional=True),
            description=_text("description", doc.get("description")),
        )

    def to_document(self) -> dict[str, Any]:
        """The document form (plain dicts and lists) that from_document reads back."""
        rules = []
        for rule in self.rules:
            item: dict[str, Any] = {"name": rule.name, "when": {c.field: c.text for c in rule.when}}
            item["action"] = rule.action
            item.update({"priority": rule.priority} if rule.priority is not None else {})
            item.update({"description": rule.description} if rule.description else {})
            rules.append(item)
        doc: dict[str, Any] = {"hit_policy": self.hit_policy, "default": self.default}
        doc.update({"description": self.description} if self.description else {})
        return {**doc, "rules": rules}


@dataclass(frozen=True)
class RowError:
    """A row that several rules match under hit_policy unique."""

    row: int
    rules: tuple[str, ...]

    @property
    def message(self) -> str:
        """The problem in words."""
        names = ", ".join(f'"{n}"' for n in self.rules)
        return f"row {self.row} matches {len(self.rules)} rules ({names}) under hit_policy unique"


@dataclass(frozen=True, eq=False)
class DecisionResult:
    """Per-row outcome of a decision table: action, deciding rule, matches, errors."""

    actions: npt.NDArray[np.object_]  # the action, the default, or None
    rule: npt.NDArray[np.int64]  # 0-based index of the deciding rule, NO_MATCH or CONFLICT
    matched: npt.NDArray[np.bool_]  # (rows, rules): which rules' conditions hold
    collected: list[list[str]] | None  # hit_policy collect only
    errors: tuple[RowError, ...]  # hit_policy unique only

    def raise_for_errors(self) -> None:
        """Raise InvalidInput when any row broke hit_policy unique."""
        if self.errors:
            shown = "; ".join(e.message for e in self.errors[:5])
            more = f" and {len(self.errors) - 5} more" if len(self.errors) > 5 else ""
            raise InvalidInput(
                f"{shown}{more}; make the rules exclusive or use hit_policy first or priority"
            )


class _Loader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate keys instead of keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f'duplicate key "{key}"', key_node.start_mark
                )
            seen.add(str(key))
        return super().construct_mapping(node, deep)


def parse_decision_table(text: str) -> DecisionTable:
    """Parse and validate a decision table written in YAML or JSON."""
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise InvalidInput(
            f"the decision table is not valid YAML or JSON: {where}"
            f"{getattr(exc, 'problem', None) or exc}; quote conditions that start with "
            '>, !, [ or {, e.g. score: ">= 0.7"'
        ) from None
    return DecisionTable.from_document(doc)


def _label(index: int, name: str) -> str:
    return f'rule {index + 1} ("{name}")' if name else f"rule {index + 1}"


def _no_unknown_keys(where: str, doc: Mapping[Any, Any], keys: tuple[str, ...]) -> None:
    unknown = [str(k) for k in doc if k not in keys]
    if unknown:
        raise InvalidInput(f"{where}: unknown key(s) {', '.join(unknown)}; use {', '.join(keys)}")


def _text(where: str, value: Any, optional: bool = False) -> Any:
    if value is None:
        return None if optional else ""
    if not isinstance(value, str):
        raise InvalidInput(
            f"{where} must be text, got {value!r}; quote it (YAML reads yes, no, true, false "
            "and numbers as non-text)"
        )
    return value.strip()


def _condition_text(where: str, value: Any) -> str:
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else repr(value)
    if isinstance(value, str):
        return value.strip()
    if value is None:
        raise InvalidInput(f"{where} is empty; write any (or -) for no condition")
    raise InvalidInput(
        f"{where}: {value} is read by YAML as a {type(value).__name__}; quote it: "
        '"in [a, b]" for a list of values, "[0.4, 0.7]" for an interval'
    )


def _rule_from_document(index: int, raw: Any) -> Rule:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"rule {index + 1} must be a mapping with name, when and action")
    name = _text(f"rule {index + 1}: name", raw.get("name"))
    label = _label(index, name)
    _no_unknown_keys(label, raw, _RULE_KEYS)
    when, priority = raw.get("when") or {}, raw.get("priority")
    if not isinstance(when, Mapping):
        raise InvalidInput(f'{label}: when must map fields to conditions, e.g. score: ">= 0.7"')
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
        raise InvalidInput(f"{label}: priority must be a whole number, not {priority!r}")
    return Rule(
        name=name,
        when=tuple(
            Condition(field=str(f), text=_condition_text(f'{label}: condition "{f}"', v))
            for f, v in when.items()
        ),
        action=_text(f"{label}: action", raw.get("action")),
        priority=priority,
        description=_text(f"{label}: description", raw.get("description")),
    )


def _check_table(table: DecisionTable) -> None:
    if not table.rules:
        raise InvalidInput("the decision table has no rules; list them under rules:")
    seen: dict[str, int] = {}
    for i, rule in enumerate(table.rules):
        label = _label(i, rule.name)
        problem = ""
        if not rule.name.strip():
            problem = "missing name; give every rule a short unique name, e.g. name: nudge"
        elif rule.name in seen:
            problem = f"the name is already used by rule {seen[rule.name] + 1}; rename one"
        elif not rule.action.strip():
            problem = "missing action; add one, e.g. action: call"
        elif table.hit_policy == "priority" and rule.priority is None:
            problem = "hit_policy priority needs a priority on every rule (1 beats 2)"
        elif table.hit_policy != "priority" and rule.priority is not None:
            problem = "priority only applies with hit_policy: priority; remove it"
        elif len({c.field for c in rule.when}) < len(rule.when):
            problem = "a field has two conditions; keep one per field"
        if problem:
            raise InvalidInput(f"{label}: {problem}")
        seen[rule.name] = i
        for cond in rule.when:
            try:
                compile_condition(cond.text)
            except BadCondition as e:
                raise InvalidInput(f'{label}: condition "{cond.field}: {cond.text}" {e}') from None


def decide(
    table: DecisionTable, columns: Mapping[str, npt.NDArray[Any] | Sequence[Any]]
) -> DecisionResult:
    """Apply the table to columns of equal length: one action per row, by the hit policy."""
    import numpy as np
    import pandas as pd

    if not columns:
        raise InvalidInput("no columns given; pass the model outputs and the input columns")
    if absent := [f for f in table.fields if f not in columns]:
        given = ", ".join(sorted(columns))
        raise InvalidInput(f"the data lacks field(s) {', '.join(absent)}; it has {given}")
    raws: dict[str, npt.NDArray[Any]] = {}
    for name in table.fields or list(columns)[:1]:
        values = columns[name]
        raws[name] = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    lengths = {len(raw) if raw.ndim == 1 else -1 for raw in raws.values()}
    if len(lengths) > 1 or -1 in lengths:
        raise InvalidInput("the columns must be one-dimensional and of one length; align them")
    matched = np.ones((lengths.pop(), len(table.rules)), dtype=bool)
    for j, rule in enumerate(table.rules):
        for cond in rule.when:
            where = f'{_label(j, rule.name)}: condition "{cond.field}: {cond.text}"'
            matched[:, j] &= column_mask(compile_condition(cond.text), raws[cond.field], where)
    return _apply_policy(table, matched)


def _apply_policy(table: DecisionTable, matched: npt.NDArray[np.bool_]) -> DecisionResult:
    import numpy as np

    r, names = matched.shape[1], [rule.name for rule in table.rules]
    if table.hit_policy == "priority":
        prio = np.array([rule.priority for rule in table.rules], dtype=np.int64)
        chosen = np.where(matched, prio, np.iinfo(np.int64).max).argmin(axis=1)
    else:
        chosen = matched.argmax(axis=1)
    idx = np.where(matched.any(axis=1), chosen, NO_MATCH).astype(np.int64)
    errors: tuple[RowError, ...] = ()
    if table.hit_policy == "unique":
        clash = matched.sum(axis=1) > 1
        idx[clash] = CONFLICT
        errors = tuple(
            RowError(int(i), tuple(names[k] for k in np.flatnonzero(matched[i])))
            for i in np.flatnonzero(clash)
        )
    lookup = np.empty(r + 2, dtype=object)  # index -1 is the default, -2 is None
    lookup[:r] = [rule.action for rule in table.rules]
    lookup[r], lookup[r + 1] = None, table.default
    collected: list[list[str]] | None = None
    if table.hit_policy == "collect":
        flat, ends = lookup[np.nonzero(matched)[1]].tolist(), np.cumsum(matched.sum(1)).tolist()
        empty = [table.default] if table.default is not None else []
        collected = [flat[a:b] or list(empty) for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    return DecisionResult(lookup[idx], idx, matched, collected, errors)


def rule_hits(table: DecisionTable, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per rule: rows it matches, rows it decides, overlaps with other rules; then rows left."""
    import numpy as np

    result = decide(table, {str(c): frame[c] for c in frame.columns})
    m = result.matched.astype(np.int64)
    both = m.T @ m  # both[i, j]: rows that rules i and j both match
    names, n = [rule.name for rule in table.rules], len(frame)
    decided = np.bincount(result.rule[result.rule >= 0], minlength=len(names))
    if table.hit_policy == "collect":
        decided = np.diag(both)
    rows: list[tuple[Any, ...]] = []
    for j, rule in enumerate(table.rules):
        overlaps = {names[k]: int(c) for k, c in enumerate(both[j]) if c and k != j}
        rows.append((j + 1, rule.name, rule.action, int(both[j, j]), int(decided[j]), overlaps))
    left = int((result.rule == NO_MATCH).sum())
    rows.append((None, "(no rule)", table.default, left, left, {}))
    if table.hit_policy == "unique":
        clash = int((result.rule == CONFLICT).sum())
        rows.append((None, "(several rules: no action)", None, clash, clash, {}))
    shares = [(*row[:5], row[4] / n if n else 0.0, row[5]) for row in rows]
    return [dict(zip(_HIT_KEYS, row, strict=True)) for row in shares]


_DTYPES = {"float": "number", "int": "number", "uint": "number", "bool": "bool", "str": "text"}
_DTYPES |= {"object": "text", "category": "text"}
_WHAT = {
    "text": "text",
    "number": "a number",
    "bool": "a boolean",
    ">": ">",
    "between": "an interval",
}
_FIXES = {"text": 'quote the value ("1", "true"): YAML reads yes, no, true, false as booleans'}
_FIXES |= {"number": "compare it with a number (1 or 0 for a flag)", "bool": "use true or false"}


def _type_problem(test: ConditionTest, dtype: str) -> str | None:
    have = next((k for p, k in _DTYPES.items() if dtype.lower().startswith(p)), None)
    if test.kind is None or test.kind == have:
        return None
    if have is None:
        return f"uses a field of type {dtype}; rules compare numbers, text and booleans only"
    what, fix = _WHAT[test.kind], _FIXES[have]
    if test.op in (">=", ">", "<=", "<", "between"):
        what = _WHAT.get(test.op, test.op)
        fix = "use == or in [...]" if have == "text" else "use == true or == false"
    return f"compares a {'boolean' if have == 'bool' else have} field with {what}; {fix}"


def validate_fields(table: DecisionTable, fields: Mapping[str, str]) -> None:
    """Check the table against the model's fields {name: dtype}; raise listing every problem."""
    problems: list[str] = []
    for i, rule in enumerate(table.rules):
        for cond in rule.when:
            where = f'{_label(i, rule.name)}: condition "{cond.field}: {cond.text}"'
            if cond.field not in fields:
                close = difflib.get_close_matches(cond.field, list(fields), n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                problems.append(
                    f'{where} uses "{cond.field}", which is not a model input or output{hint}; '
                    f"known fields: {', '.join(sorted(fields))}"
                )
            elif problem := _type_problem(compile_condition(cond.text), fields[cond.field]):
                problems.append(f"{where} {problem}")
    if problems:
        head = "" if len(problems) == 1 else f"{len(problems)} problems in the decision table:\n"
        raise InvalidInput(head + "\n".join(problems))
