"""Decision tables: parsing and its messages, field checks, hit policies, nulls, rule hits."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from relayml.domain.decisions import (
    CONFLICT,
    NO_MATCH,
    DecisionTable,
    RowError,
    decide,
    parse_decision_table,
    rule_hits,
    validate_fields,
)
from relayml.errors import InvalidInput

CHURN = """
hit_policy: first
default: none
rules:
  - name: save the valuable
    when: {score: ">= 0.7", monthly: ">= 80"}
    action: call
  - name: nudge
    when: {score: "[0.4, 0.7)", plan: "in [basic, plus]"}
    action: email
"""


def table(rules: str, head: str = "") -> DecisionTable:
    """Parse a table whose rules are given as YAML list items."""
    return parse_decision_table(f"{head}\nrules:\n{rules}")


def one_rule(condition: str, field: str = "score") -> DecisionTable:
    """A table with a single rule "r" that holds one condition."""
    return table(f"  - {{name: r, action: go, when: {{{field}: {json.dumps(condition)}}}}}")


def hits(condition: str, values: list[Any], field: str = "score") -> list[bool]:
    """Which rows the single condition matches."""
    return decide(one_rule(condition, field), {field: values}).matched[:, 0].tolist()


# --- parsing -------------------------------------------------------------------------------


def test_parses_the_documented_example() -> None:
    t = parse_decision_table(CHURN)
    assert t.hit_policy == "first" and t.default == "none"
    assert [r.name for r in t.rules] == ["save the valuable", "nudge"]
    assert [(c.field, c.text) for c in t.rules[1].when] == [
        ("score", "[0.4, 0.7)"),
        ("plan", "in [basic, plus]"),
    ]
    assert t.fields == ["monthly", "plan", "score"]


def test_json_and_yaml_give_the_same_table_and_documents_round_trip() -> None:
    t = parse_decision_table(CHURN)
    assert parse_decision_table(json.dumps(t.to_document())) == t
    assert parse_decision_table(yaml.safe_dump(t.to_document(), sort_keys=False)) == t
    assert DecisionTable.from_document(t.to_document()) == t


def test_yaml_scalars_become_equality_conditions() -> None:
    t = table("  - {name: r, action: go, when: {tenure: 12, churned: true, plan: basic}}")
    assert [c.text for c in t.rules[0].when] == ["12", "true", "basic"]
    data = {"tenure": [12, 12, 3], "churned": [True, False, True], "plan": ["basic"] * 3}
    assert decide(t, data).rule.tolist() == [0, NO_MATCH, NO_MATCH]


def test_hit_policy_is_case_insensitive_and_defaults_to_first() -> None:
    assert table("  - {name: r, action: go}", "hit_policy: COLLECT").hit_policy == "collect"
    assert table("  - {name: r, action: go}").hit_policy == "first"


BAD_CONDITIONS = [
    ("=> 0.7", 'condition "score: => 0.7" uses an unknown operator "=>"; use >='),
    ("= 0.7", 'uses an unknown operator "="'),
    ("between 1 and 2", 'uses an unknown operator "between"'),
    ("[0.7, 0.4]", "is not a valid interval: no number from 0.7 to 0.4"),
    ("[0.4, 0.4)", "is not a valid interval: no number from 0.4 to 0.4"),
    ("[low, high]", "is not a valid interval: write two numbers"),
    ("[1, 2, 3]", "for a list of values write in [a, b]"),
    ("(0.4, 0.7", "is not a valid interval"),
    (">= basic", "compares text with >=, which needs a number; use =="),
    ("< true", "compares bool with <"),
    ("in basic, plus", "needs its values in brackets, e.g. in [a, b]"),
    ("not in []", "lists no values; write e.g. not in [a, b]"),
    ("in [1, basic]", "mixes numbers, text and booleans"),
    ("== nan", "compares with NaN, which never matches; use is null"),
    ("== a[1]", "cannot read the value a[1]; quote text"),
    (">=", "has an empty value"),
]


@pytest.mark.parametrize(("condition", "message"), BAD_CONDITIONS)
def test_bad_conditions_name_the_rule_and_the_condition(condition: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as err:
        one_rule(condition)
    assert str(err.value).startswith('rule 1 ("r"): condition "score: ')


BAD_DOCUMENTS = [
    (
        "hit_policy: any\nrules: [{name: a, action: b}]",
        'unknown hit_policy "any"; use first, priority, collect, unique',
    ),
    ("rules: [{name: a}]", 'rule 1 ("a"): missing action; add one, e.g. action: call'),
    ("rules: [{name: a, action: yes}]", 'rule 1 ("a"): action must be text, got True; quote it'),
    ("rules: [{action: b}]", "rule 1: missing name"),
    (
        "rules: [{name: a, action: b}, {name: c, action: d}, {name: a, action: e}]",
        'rule 3 ("a"): the name is already used by rule 1',
    ),
    ("rules: []", "the decision table has no rules"),
    ("default: x", "the decision table has no rules"),
    ("- a\n- b", "a decision table is a mapping"),
    ("rules: [{name: a, acton: b}]", 'rule 1 ("a"): unknown key(s) acton; use name, when'),
    ("rulez: []", "the decision table: unknown key(s) rulez"),
    ("default: 3\nrules: [{name: a, action: b}]", "default must be text, got 3"),
    ("rules: [{name: a, action: b, when: [score]}]", 'rule 1 ("a"): when must map fields'),
    ("rules: [{name: a, action: b, when: {s: [0.4]}}]", '"s": [0.4] is read by YAML as a list'),
    ("rules: [{name: a, action: b, when: {s: }}]", 'rule 1 ("a"): condition "s" is empty'),
    ("rules: [{name: a, action: b, priority: 1}]", "priority only applies with hit_policy"),
    (
        "hit_policy: priority\nrules: [{name: a, action: b, priority: 1}, {name: c, action: d}]",
        'rule 2 ("c"): hit_policy priority needs a priority on every rule',
    ),
    (
        "hit_policy: priority\nrules: [{name: a, action: b, priority: high}]",
        "priority must be a whole number, not 'high'",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_DOCUMENTS)
def test_bad_documents_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse_decision_table(text)


def test_yaml_syntax_errors_give_the_line() -> None:
    text = "rules:\n  - name: a\n    action: call\n    when: {score: >= 0.7}\n"
    with pytest.raises(InvalidInput, match=r"not valid YAML or JSON: line 4, column \d+: .*quote"):
        parse_decision_table(text)
    with pytest.raises(InvalidInput, match=r"line 1, column \d+"):
        parse_decision_table('{"rules": [}')


def test_duplicate_yaml_keys_are_refused_not_overwritten() -> None:
    text = 'rules:\n  - name: a\n    action: b\n    when:\n      s: ">= 1"\n      s: "< 2"\n'
    with pytest.raises(InvalidInput, match='line 6, column 7: duplicate key "s"'):
        parse_decision_table(text)


def test_direct_construction_is_validated_too() -> None:
    doc = parse_decision_table(CHURN).to_document()
    doc["rules"][1]["when"]["score"] = "~ 1"
    with pytest.raises(InvalidInput, match=r'rule 2 \("nudge"\): condition "score: ~ 1" uses'):
        DecisionTable.from_document(doc)


# --- validate_fields -----------------------------------------------------------------------

FIELDS = {"score": "float64", "monthly": "int64", "plan": "string", "vip": "bool"}


def test_validate_fields_accepts_a_fitting_table() -> None:
    validate_fields(parse_decision_table(CHURN), FIELDS)
    validate_fields(one_rule("== true", "vip"), FIELDS)
    validate_fields(one_rule("is null", "plan"), FIELDS)


@pytest.mark.parametrize(
    ("field", "condition", "message"),
    [
        ("plan", ">= 5", 'rule 1 ("r"): condition "plan: >= 5" compares a text field with >=; '
         "use == or in [...]"),
        ("plan", "[1, 2]", "compares a text field with an interval; use == or in [...]"),
        ("plan", "in [1, 2]", 'compares a text field with a number; quote the value ("1"'),
        ("plan", "true", "compares a text field with a boolean; quote the value"),
        ("monthly", "== gold", "compares a number field with text; compare it with a number"),
        ("vip", "== 1", "compares a boolean field with a number; use true or false"),
        ("vip", "> 0", "compares a boolean field with >; use == true or == false"),
        ("scor", ">= 1", '"scor", which is not a model input or output (did you mean "score"?); '
         "known fields: monthly, plan, score, vip"),
    ],
)  # fmt: skip
def test_validate_fields_reports_types_and_unknown_fields(
    field: str, condition: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        validate_fields(one_rule(condition, field), FIELDS)


def test_validate_fields_lists_every_problem() -> None:
    t = table(
        "  - {name: a, action: x, when: {plan: '>= 1', when: '== 2'}}\n"
        "  - {name: b, action: y, when: {at: '> 1'}}"
    )
    with pytest.raises(InvalidInput, match="3 problems in the decision table") as err:
        validate_fields(t, {**FIELDS, "at": "datetime64[ns]"})
    assert 'rule 2 ("b"): condition "at: > 1" uses a field of type datetime64[ns]' in str(err.value)
    assert str(err.value).count("\n") == 3


# --- hit policies --------------------------------------------------------------------------

OVERLAP = """
  - {name: likely, when: {score: ">= 0.5"}, action: email, priority: 2}
  - {name: very likely, when: {score: ">= 0.8"}, action: call, priority: 1}
  - {name: valuable, when: {score: ">= 0.8", monthly: ">= 100"}, action: visit, priority: 1}
"""
SCORES = {"score": [0.9, 0.9, 0.6, 0.1], "monthly": [50, 200, 500, 500]}


def overlap(policy: str) -> DecisionTable:
    """Three overlapping rules under ``policy`` (priorities only kept for priority)."""
    rules = OVERLAP if policy == "priority" else re.sub(r", priority: \d", "", OVERLAP)
    return table(rules, f"hit_policy: {policy}\ndefault: nothing")


def test_first_takes_the_first_matching_rule_in_order() -> None:
    r = decide(overlap("first"), SCORES)
    assert r.actions.tolist() == ["email", "email", "email", "nothing"]
    assert r.rule.tolist() == [0, 0, 0, NO_MATCH] and r.collected is None and r.errors == ()


def test_priority_takes_the_smallest_number_and_breaks_ties_by_order() -> None:
    r = decide(overlap("priority"), SCORES)
    # row 1 matches "very likely" and "valuable", both priority 1: the earlier rule wins
    assert r.actions.tolist() == ["call", "call", "email", "nothing"]
    assert r.rule.tolist() == [1, 1, 0, NO_MATCH]


def test_collect_lists_every_matching_action_in_rule_order() -> None:
    r = decide(overlap("collect"), SCORES)
    assert r.collected == [["email", "call"], ["email", "call", "visit"], ["email"], ["nothing"]]
    assert r.actions.tolist() == ["email", "email", "email", "nothing"]
    no_default = table(re.sub(r", priority: \d", "", OVERLAP), "hit_policy: collect")
    assert decide(no_default, SCORES).collected == [
        ["email", "call"],
        ["email", "call", "visit"],
        ["email"],
        [],
    ]


def test_unique_marks_overlapping_rows_instead_of_failing_the_batch() -> None:
    r = decide(overlap("unique"), SCORES)
    assert r.actions.tolist() == [None, None, "email", "nothing"]
    assert r.rule.tolist() == [CONFLICT, CONFLICT, 0, NO_MATCH]
    assert r.errors == (
        RowError(0, ("likely", "very likely")),
        RowError(1, ("likely", "very likely", "valuable")),
    )
    assert r.errors[0].message == (
        'row 0 matches 2 rules ("likely", "very likely") under hit_policy unique'
    )
    with pytest.raises(InvalidInput, match=r"row 0 matches 2 rules .*; make the rules exclusive"):
        r.raise_for_errors()
    decide(overlap("unique"), {"score": [0.6], "monthly": [1]}).raise_for_errors()


def test_raise_for_errors_summarises_long_lists() -> None:
    r = decide(overlap("unique"), {"score": [0.9] * 8, "monthly": [0] * 8})
    with pytest.raises(InvalidInput, match=r"row 4 matches .* and 3 more; make"):
        r.raise_for_errors()


def test_default_action_and_no_default() -> None:
    t = table("  - {name: r, action: go, when: {score: '> 0.5'}}")
    assert decide(t, {"score": [0.9, 0.1]}).actions.tolist() == ["go", None]
    catch_all = table(
        "  - {name: r, action: go, when: {score: '> 0.5'}}\n  - {name: all, action: c}"
    )
    assert decide(catch_all, {"score": np.array([0.9, 0.1])}).actions.tolist() == ["go", "c"]
    only_catch_all = table("  - {name: all, action: c}")
    assert decide(only_catch_all, {"other": [1, 2, 3]}).actions.tolist() == ["c"] * 3


# --- conditions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("[1, 2]", [False, True, True, True, False]),
        ("(1, 2]", [False, False, True, True, False]),
        ("[1, 2)", [False, True, True, False, False]),
        ("(1, 2)", [False, False, True, False, False]),
        ("]1, 2[", [False, False, True, False, False]),
        ("[1..2[", [False, True, True, False, False]),
        ("[2, 2]", [False, False, False, True, False]),
        ("[-inf, 1.5]", [True, True, True, False, False]),
    ],
)
def test_intervals_open_and_closed(condition: str, expected: list[bool]) -> None:
    assert hits(condition, [0.5, 1, 1.5, 2, 2.5]) == expected


MISSING = [1.0, None, float("nan"), 3.0]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (">= 0", [True, False, False, True]),
        ("< 2", [True, False, False, False]),
        ("!= 1", [False, False, False, True]),
        ("not in [1, 2]", [False, False, False, True]),
        ("[0, 5]", [True, False, False, True]),
        ("is null", [False, True, True, False]),
        ("is not null", [True, False, False, True]),
        ("any", [True, True, True, True]),
        ("-", [True, True, True, True]),
    ],
)
def test_missing_numbers_match_only_any_and_is_null(condition: str, expected: list[bool]) -> None:
    assert hits(condition, MISSING) == expected
    assert hits(condition, np.array(MISSING, dtype=float)) == expected
    assert hits(condition, pd.Series(MISSING, dtype="Float64")) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("in [basic, plus]", [True, True, False, False, False]),
        ("not in [basic, plus]", [False, False, True, True, False]),
        ('in ["a, b", plus]', [False, True, False, True, False]),
        ("== 'a, b'", [False, False, False, True, False]),
        ("!= basic", [False, True, True, True, False]),
        ("basic", [True, False, False, False, False]),
        ('"1"', [False, False, False, False, False]),
        ("is null", [False, False, False, False, True]),
    ],
)
def test_text_conditions(condition: str, expected: list[bool]) -> None:
    plans = ["basic", "plus", "gold", "a, b", None]
    assert hits(condition, plans, "plan") == expected
    assert hits(condition, pd.Series(plans, dtype="str"), "plan") == expected
    assert hits(condition, pd.Series(plans, dtype="string"), "plan") == expected


def test_boolean_conditions() -> None:
    flags = pd.Series([True, False, None], dtype="boolean")
    assert hits("true", flags, "vip") == [True, False, False]
    assert hits("!= true", flags, "vip") == [False, True, False]
    assert hits("in [false]", np.array([True, False]), "vip") == [False, True]


def test_numbers_compared_with_equality_and_lists() -> None:
    assert hits("== 2", [1, 2, 3]) == [False, True, False]
    assert hits("in [1, 3]", [1, 2, 3]) == [True, False, True]
    assert hits("> 1", ["1", "2.5", None]) == [
        False,
        True,
        False,
    ]  # numeric text is read as a number


def test_decide_reports_data_that_does_not_fit() -> None:
    t = parse_decision_table(CHURN)
    with pytest.raises(
        InvalidInput, match=re.escape("the data lacks field(s) monthly, plan; it has score")
    ):
        decide(t, {"score": [0.1]})
    with pytest.raises(InvalidInput, match="one-dimensional and of one length"):
        decide(t, {"score": [0.1], "monthly": [1, 2], "plan": ["a"]})
    with pytest.raises(InvalidInput, match='condition "score: > 1" needs numbers, but the data'):
        hits("> 1", ["high"])
    with pytest.raises(InvalidInput, match='condition "plan: basic" compares with text, but the'):
        hits("basic", [1, 2], "plan")
    with pytest.raises(InvalidInput, match="no columns given"):
        decide(table("  - {name: all, action: c}"), {})


# --- rule_hits -----------------------------------------------------------------------------


def test_rule_hits_counts_matches_decisions_and_overlaps() -> None:
    frame = pd.DataFrame(SCORES)
    rows = rule_hits(overlap("first"), frame)
    assert [(r["name"], r["matches"], r["decides"]) for r in rows] == [
        ("likely", 3, 3),
        ("very likely", 2, 0),
        ("valuable", 1, 0),
        ("(no rule)", 1, 1),
    ]
    assert rows[0] == {
        "number": 1,
        "name": "likely",
        "action": "email",
        "matches": 3,
        "decides": 3,
        "share": 0.75,
        "overlaps": {"very likely": 2, "valuable": 1},
    }
    assert rows[2]["overlaps"] == {"likely": 1, "very likely": 1}
    assert rows[3]["action"] == "nothing" and rows[3]["number"] is None


def test_rule_hits_follow_the_hit_policy() -> None:
    frame = pd.DataFrame(SCORES)
    decides = {p: [r["decides"] for r in rule_hits(overlap(p), frame)] for p in ("priority",)}
    assert decides["priority"] == [1, 2, 0, 1]
    assert [r["decides"] for r in rule_hits(overlap("collect"), frame)] == [3, 2, 1, 1]
    unique = rule_hits(overlap("unique"), frame)
    assert [(r["name"], r["decides"]) for r in unique] == [
        ("likely", 1),
        ("very likely", 0),
        ("valuable", 0),
        ("(no rule)", 1),
        ("(several rules: no action)", 2),
    ]
    assert rule_hits(overlap("first"), frame.iloc[:0])[0]["share"] == 0.0


# --- property: first == a per-row reference ------------------------------------------------

NUMBER_OPS = [">=", ">", "<=", "<", "==", "!="]
VALUES = [0.0, 1.0, 2.0, 3.0, None, math.nan]


@st.composite
def conditions(draw: st.DrawFn) -> tuple[str, str, tuple[Any, ...]]:
    """A (field, text, spec) triple; spec is what the reference implementation evaluates."""
    if draw(st.booleans()):
        field = draw(st.sampled_from(["x", "y"]))
        kind = draw(st.sampled_from(["cmp", "interval", "in", "not in", "any", "is null"]))
        if kind == "cmp":
            op, v = draw(st.sampled_from(NUMBER_OPS)), draw(st.integers(0, 3))
            return field, f"{op} {v}", ("cmp", op, float(v))
        if kind == "interval":
            lo, span = draw(st.integers(0, 3)), draw(st.integers(1, 2))
            a, b = draw(st.booleans()), draw(st.booleans())
            text = f"{'[' if a else '('}{lo}, {lo + span}{']' if b else ')'}"
            return field, text, ("interval", lo, lo + span, a, b)
        if kind in ("in", "not in"):
            vs = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
            return field, f"{kind} [{', '.join(map(str, vs))}]", (kind, [float(v) for v in vs])
        return field, kind, (kind,)
    op = draw(st.sampled_from(["==", "!=", "in", "not in", "is null"]))
    vs = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=2))
    text = {"==": f"== {vs[0]}", "!=": f"!= {vs[0]}", "is null": "is null"}.get(
        op, f"{op} [{', '.join(vs)}]"
    )
    return "t", text, (op, [vs[0]] if op in ("==", "!=") else vs)


def reference_holds(spec: tuple[Any, ...], value: Any) -> bool:
    """Evaluate one condition on one value, row by row, the documented way."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    kind = spec[0]
    if kind in ("any", "is null"):
        return kind == "any" or missing
    if missing:
        return False
    if kind == "cmp":
        op, v = spec[1], spec[2]
        return {
            ">=": value >= v,
            ">": value > v,
            "<=": value <= v,
            "<": value < v,
            "==": value == v,
            "!=": value != v,
        }[op]
    if kind == "interval":
        _, lo, hi, lo_closed, hi_closed = spec
        return (value >= lo if lo_closed else value > lo) and (
            value <= hi if hi_closed else value < hi
        )
    if kind in ("==", "in"):
        return value in spec[1]
    return value not in spec[1]  # "!=" and "not in"


@settings(max_examples=150, deadline=None)
@given(
    rules=st.lists(
        st.lists(conditions(), max_size=3),
        min_size=1,
        max_size=5,
    ),
    rows=st.lists(
        st.tuples(
            st.sampled_from(VALUES),
            st.sampled_from(VALUES),
            st.sampled_from(["a", "b", "c", None]),
        ),
        max_size=30,
    ),
)
def test_first_matches_a_per_row_reference(
    rules: list[list[tuple[str, str, tuple[Any, ...]]]],
    rows: list[tuple[Any, Any, Any]],
) -> None:
    specs = [{f: (text, spec) for f, text, spec in conds} for conds in rules]  # last per field
    doc = {
        "default": "none",
        "rules": [
            {"name": f"r{i}", "action": f"a{i}", "when": {f: t for f, (t, _) in s.items()}}
            for i, s in enumerate(specs)
        ],
    }
    data = {"x": [r[0] for r in rows], "y": [r[1] for r in rows], "t": [r[2] for r in rows]}
    result = decide(DecisionTable.from_document(doc), data)
    for i, row in enumerate(rows):
        values = dict(zip(("x", "y", "t"), row, strict=True))
        matching = [
            j
            for j, s in enumerate(specs)
            if all(reference_holds(spec, values[f]) for f, (_, spec) in s.items())
        ]
        assert result.matched[i].tolist() == [j in matching for j in range(len(specs))]
        assert result.rule[i] == (matching[0] if matching else NO_MATCH)
        assert result.actions[i] == (f"a{matching[0]}" if matching else "none")
