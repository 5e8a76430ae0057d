"""The run-search filter grammar: good filters, every error a user can meet, and round trips."""

from __future__ import annotations

import re
import string
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relayml.domain.search import (
    ATTRIBUTES,
    RUN_STATUSES,
    And,
    Comparison,
    Expr,
    Field,
    FieldKind,
    Or,
    OrderBy,
    fields_of,
    format_filter,
    parse_filter,
    parse_order_by,
)
from relayml.errors import InvalidInput

AUC = Field("metric", "auc")
LOSS = Field("metric", "loss")
MODEL = Field("param", "model")
TEAM = Field("tag", "team")
STATUS = Field("attribute", "status")


def cmp(field: Field, op: str, value: float | str | tuple[str, ...]) -> Comparison:
    return Comparison(field, op, value)


def error_of(text: str) -> str:
    with pytest.raises(InvalidInput) as info:
        parse_filter(text)
    return info.value.message


def assert_points_at(message: str, text: str, pos: int, label: str = "filter") -> None:
    """The message names the position and draws the input with a caret under it."""
    first, echo, caret = message.split("\n")
    assert first.startswith(f"Invalid {label}: ")
    assert first.endswith(f" at position {pos}")
    assert echo == "  " + re.sub(r"\s", " ", text)
    assert caret == " " * (pos + 2) + "^"


# ---------------------------------------------------------------- good filters


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_no_filter(text: str | None) -> None:
    assert parse_filter(text) is None


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_metric_operators(op: str) -> None:
    assert parse_filter(f"metrics.auc {op} 0.8") == cmp(AUC, op, 0.8)


@pytest.mark.parametrize(
    ("typed", "value"),
    [("3", 3.0), ("-0.5", -0.5), ("1e-3", 0.001), ("2.5E+2", 250.0), (".5", 0.5), ("7.", 7.0)],
)
def test_number_forms(typed: str, value: float) -> None:
    expr = parse_filter(f"metrics.loss < {typed}")
    assert expr == cmp(LOSS, "<", value)
    assert isinstance(expr, Comparison) and type(expr.value) is float


def test_no_spaces_needed_around_operators() -> None:
    assert parse_filter("metrics.auc>=0.8") == cmp(AUC, ">=", 0.8)
    assert parse_filter("metrics.loss>-1") == cmp(LOSS, ">", -1.0)
    assert parse_filter("params.model='xgb'") == cmp(MODEL, "=", "xgb")


def test_double_equals_means_equals() -> None:
    assert parse_filter("metrics.auc == 1") == cmp(AUC, "=", 1.0)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("params.model = 'xgb'", "xgb"),
        ('params.model = "xgb"', "xgb"),
        ("params.model = 'it''s'", "it's"),
        ('params.model = "say ""hi"""', 'say "hi"'),
        ("params.model = ''", ""),
        ("params.model = 'a and b or (c)'", "a and b or (c)"),
    ],
)
def test_param_strings(text: str, value: str) -> None:
    assert parse_filter(text) == cmp(MODEL, "=", value)


@pytest.mark.parametrize("typed", ["3", "-0.50", "1e-3", "0003"])
def test_unquoted_number_on_text_field_is_kept_as_typed(typed: str) -> None:
    assert parse_filter(f"params.max_depth = {typed}") == cmp(
        Field("param", "max_depth"), "=", typed
    )
    assert parse_filter(f"tags.build != {typed}") == cmp(Field("tag", "build"), "!=", typed)


@pytest.mark.parametrize("op", ["LIKE", "ILIKE", "like", "Ilike"])
def test_like_operators(op: str) -> None:
    assert parse_filter(f"tags.team {op} 'ri%'") == cmp(TEAM, op.upper(), "ri%")


def test_in_and_not_in_lists() -> None:
    assert parse_filter("params.model IN ('xgb', \"lgbm\", 3)") == cmp(
        MODEL, "IN", ("xgb", "lgbm", "3")
    )
    assert parse_filter("tags.team not in ('a')") == cmp(TEAM, "NOT IN", ("a",))
    assert parse_filter("tags.team NOT   IN('a','b')") == cmp(TEAM, "NOT IN", ("a", "b"))
    assert parse_filter("status in ('failed', 'Killed')") == cmp(STATUS, "IN", ("FAILED", "KILLED"))


@pytest.mark.parametrize(
    "text",
    ["metric.auc > 1", "METRICS.auc > 1", "Metrics.auc > 1", "`metrics.auc` > 1"],
)
def test_metric_prefix_spellings(text: str) -> None:
    assert parse_filter(text) == cmp(AUC, ">", 1.0)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("param.model = 'x'", MODEL),
        ("tag.team = 'x'", TEAM),
        ("attribute.name = 'x'", Field("attribute", "name")),
        ("attr.name = 'x'", Field("attribute", "name")),
        ("attributes.name = 'x'", Field("attribute", "name")),
        ("name = 'x'", Field("attribute", "name")),
        ("NAME = 'x'", Field("attribute", "name")),
    ],
)
def test_other_prefix_spellings(text: str, field: Field) -> None:
    assert parse_filter(text) == cmp(field, "=", "x")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("metrics.`my key` > 1", Field("metric", "my key")),
        ('metrics."my key" > 1', Field("metric", "my key")),
        ("`metrics.my key` > 1", Field("metric", "my key")),
        ('"metrics.my key" > 1', Field("metric", "my key")),
        ("metrics.`odd``key` > 1", Field("metric", "odd`key")),
        ("metrics.val/loss:step-1.x > 1", Field("metric", "val/loss:step-1.x")),
        ("metrics.a.b > 1", Field("metric", "a.b")),
    ],
)
def test_keys(text: str, field: Field) -> None:
    assert parse_filter(text) == cmp(field, ">", 1.0)


def test_quoted_attribute_names() -> None:
    assert parse_filter("`status` = 'failed'") == cmp(STATUS, "=", "FAILED")
    assert parse_filter("attributes.`name` = 'x'") == cmp(Field("attribute", "name"), "=", "x")


def test_status_values_are_uppercased() -> None:
    assert parse_filter("status = 'failed'") == cmp(STATUS, "=", "FAILED")
    assert parse_filter('attributes.status != "Running"') == cmp(STATUS, "!=", "RUNNING")


@pytest.mark.parametrize("key", ["run_id", "name", "experiment", "user"])
def test_text_attributes(key: str) -> None:
    field = Field("attribute", key)
    assert parse_filter(f"{key} LIKE 'ab%'") == cmp(field, "LIKE", "ab%")
    assert parse_filter(f"{key} = 42") == cmp(field, "=", "42")
    assert parse_filter(f"{key} NOT IN ('a', 'b')") == cmp(field, "NOT IN", ("a", "b"))


@pytest.mark.parametrize(
    ("typed", "epoch_ms"),
    [
        ("1714521600000", 1714521600000.0),
        ("'2024-05-01'", 1714521600000.0),
        ("'2024-05-01T00:00:00'", 1714521600000.0),
        ("'2024-05-01 00:00:00Z'", 1714521600000.0),
        ("'2024-05-01T02:00:00+02:00'", 1714521600000.0),
        ("'2024-05-01T00:00:01.5'", 1714521601500.0),
        ('"1970-01-01"', 0.0),
    ],
)
def test_times(typed: str, epoch_ms: float) -> None:
    assert parse_filter(f"start_time >= {typed}") == cmp(
        Field("attribute", "start_time"), ">=", epoch_ms
    )
    assert parse_filter(f"end_time < {typed}") == cmp(Field("attribute", "end_time"), "<", epoch_ms)


def test_naive_times_are_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        expr = parse_filter("start_time > '2024-05-01T00:00:00'")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert expr == cmp(Field("attribute", "start_time"), ">", 1714521600000.0)


def test_duration_is_seconds() -> None:
    assert parse_filter("duration > 60") == cmp(Field("attribute", "duration"), ">", 60.0)


def test_and_binds_tighter_than_or() -> None:
    a, b, c = cmp(AUC, ">", 1.0), cmp(LOSS, "<", 2.0), cmp(MODEL, "=", "x")
    base = "metrics.auc > 1 {} metrics.loss < 2 {} params.model = 'x'"
    assert parse_filter(base.format("or", "and")) == Or((a, And((b, c))))
    assert parse_filter(base.format("and", "or")) == Or((And((a, b)), c))
    grouped = "metrics.auc > 1 and (metrics.loss < 2 or params.model = 'x')"
    assert parse_filter(grouped) == And((a, Or((b, c))))
    grouped = "(metrics.auc > 1 or metrics.loss < 2) and params.model = 'x'"
    assert parse_filter(grouped) == And((Or((a, b)), c))


def test_nested_groups_of_the_same_kind_are_flattened() -> None:
    a, b, c = cmp(AUC, ">", 1.0), cmp(LOSS, "<", 2.0), cmp(MODEL, "=", "x")
    assert parse_filter("metrics.auc > 1 and (metrics.loss < 2 and params.model = 'x')") == And(
        (a, b, c)
    )
    assert parse_filter("(metrics.auc > 1 or metrics.loss < 2) or params.model = 'x'") == Or(
        (a, b, c)
    )
    assert parse_filter("((metrics.auc > 1))") == a
    assert parse_filter("(metrics.auc > 1) and ((metrics.loss < 2))") == And((a, b))


@pytest.mark.parametrize(
    "text",
    [
        "metrics.auc > 1 AND metrics.loss < 2 OR params.model = 'x'",
        "metrics.auc > 1 And metrics.loss < 2 oR params.model = 'x'",
        "metrics.auc > 1\n  and metrics.loss < 2\n  or params.model = 'x'",
    ],
)
def test_keywords_are_case_insensitive_and_whitespace_is_free(text: str) -> None:
    a, b, c = cmp(AUC, ">", 1.0), cmp(LOSS, "<", 2.0), cmp(MODEL, "=", "x")
    assert parse_filter(text) == Or((And((a, b)), c))


def test_keywords_are_plain_keys_after_a_prefix() -> None:
    assert parse_filter("params.and = 'or'") == cmp(Field("param", "and"), "=", "or")
    assert parse_filter("tags.in IN ('in')") == cmp(Field("tag", "in"), "IN", ("in",))


def test_fields_of() -> None:
    expr = parse_filter(
        "metrics.auc > 1 and (status = 'FAILED' or metrics.auc < 0) or tags.team = 'x'"
    )
    assert fields_of(expr) == {AUC, STATUS, TEAM}
    assert fields_of(None) == set()
    assert fields_of(cmp(MODEL, "=", "x")) == {MODEL}


def test_format_filter_is_canonical() -> None:
    expr = parse_filter(
        "METRIC.auc>0.8 AND (status='failed' OR tags.t like 'x%') and metrics.`a b`=1 "
        "and params.p not in ('it''s', 3) and attributes.start_time >= '1970-01-01'"
    )
    assert expr is not None
    assert format_filter(expr) == (
        "metrics.auc > 0.8 and (status = 'FAILED' or tags.t LIKE 'x%') and metrics.`a b` = 1.0 "
        "and params.p NOT IN ('it''s', '3') and start_time >= 0.0"
    )
    assert format_filter(
        Or((And((cmp(AUC, ">", 1.0), cmp(LOSS, "<", 2.0))), cmp(TEAM, "=", "x")))
    ) == ("metrics.auc > 1.0 and metrics.loss < 2.0 or tags.team = 'x'")


# ---------------------------------------------------------------- errors


def test_missing_operator_message_in_full() -> None:
    assert error_of("metrics.auc 0.8") == (
        "Invalid filter: expected an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN) "
        "after 'metrics.auc', found '0.8' at position 12\n"
        "  metrics.auc 0.8\n"
        "              ^"
    )


def test_errors_are_invalid_input() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_filter("metrics.auc >")
    assert info.value.code == "INVALID_INPUT"
    assert info.value.http_status == 422


@pytest.mark.parametrize(
    ("text", "pos", "fragments"),
    [
        # unknown prefix, with a suggestion or the list of prefixes
        ("metircs.auc > 1", 0, ["unknown field 'metircs.auc'", "did you mean metrics.auc?"]),
        (
            "metrics.a > 1 or parms.b = 'x'",
            17,
            ["unknown field 'parms.b'", "did you mean params.b?"],
        ),
        ("tgas.team = 'x'", 0, ["did you mean tags.team?"]),
        ("zzz.auc > 1", 0, ["unknown field 'zzz.auc'", "metrics.<key>, params.<key>, tags.<key>"]),
        # unknown attribute, listing the valid ones
        (
            "attributes.colour = 'x'",
            0,
            ["unknown attribute 'colour'", ", ".join(sorted(ATTRIBUTES))],
        ),
        ("attributes.stat = 'x'", 0, ["unknown attribute 'stat'", "did you mean status?"]),
        ("stauts = 'FAILED'", 0, ["unknown field 'stauts'", "did you mean status?"]),
        ("auc > 0.8", 0, ["unknown field 'auc'", "write metrics.auc, params.auc or tags.auc"]),
        ("metrics > 1", 0, ["expected a key after 'metrics'"]),
        ("metrics. > 1", 9, ["expected a key after 'metrics.'"]),
        ("metrics.`` > 1", 0, ["expected a key"]),
        ("'metrics.auc' > 1", 0, ["field names with `backquotes`"]),
        # unterminated strings and keys
        ("params.a = 'abc", 11, ["unterminated string", "expected a closing '", '"\'abc"']),
        ('params.a = "abc', 11, ["unterminated string", 'expected a closing "']),
        ("params.a = 'it''s", 11, ["unterminated string"]),
        ("metrics.`my key > 1", 8, ["unterminated key", "expected a closing `"]),
        # missing value
        ("metrics.auc >", 13, ["expected a value after '>'", "the end of the filter"]),
        ("metrics.auc > and metrics.b < 1", 14, ["expected a value after '>'", "'and'"]),
        ("status = FAILED", 9, ["expected a value after '='", "put text in quotes: 'FAILED'"]),
        ("params.v = 1.2.3", 11, ["put text in quotes: '1.2.3'"]),
        # missing or broken operator
        ("metrics.auc", 11, ["expected an operator", "the end of the filter"]),
        ("params.a NOT 'x'", 13, ["expected IN after NOT"]),
        ("metrics.a ! 1", 10, ["expected '!='"]),
        ("metrics.a > 1 & metrics.b < 2", 14, ["unexpected character", "'and' / 'or'"]),
        ("metrics.a > 1 ; x", 14, ["unexpected character", "';'"]),
        # trailing garbage
        ("metrics.auc > 1 foo", 16, ["expected 'and', 'or' or the end of the filter after '1'"]),
        ("metrics.auc > 1 2", 16, ["expected 'and', 'or' or the end of the filter"]),
        ("metrics.auc > 1 and metrics.b < 2 metrics.c > 3", 34, ["found 'metrics.c'"]),
        ("metrics.auc > 1and metrics.b < 2", 14, ["expected a value after '>'", "'1and'"]),
        # unbalanced parentheses
        ("(metrics.auc > 1", 16, ["unbalanced parentheses", "close the '(' at position 0"]),
        ("((metrics.auc > 1)", 18, ["unbalanced parentheses", "close the '(' at position 0"]),
        ("metrics.auc > 1)", 15, ["unbalanced parentheses", "no matching '('"]),
        ("(metrics.a > 1 foo)", 15, ["expected 'and', 'or' or ')' to close the '(' at position 0"]),
        ("()", 1, ["expected a comparison", "after '('"]),
        # IN lists
        ("params.a IN ()", 13, ["expected at least one value in the IN list"]),
        ("params.a NOT IN ()", 17, ["expected at least one value in the NOT IN list"]),
        ("params.a IN 'x'", 12, ["expected '(' to start the list of values after IN"]),
        ("params.a IN ('x' 'y')", 17, ["expected ',' or ')'", "list that starts at position 12"]),
        ("params.a IN ('x',", 17, ["expected a value after ','", "the end of the filter"]),
        ("params.a IN ('x', )", 18, ["expected a value after ','"]),
        ("params.a IN ('x'", 16, ["expected ',' or ')'"]),
        # dangling keywords
        ("metrics.a > 1 and", 17, ["expected a comparison such as metrics.auc > 0.8 after 'and'"]),
        ("metrics.a > 1 or", 16, ["expected a comparison", "after 'or'"]),
        ("and metrics.a > 1", 0, ["expected a comparison", "found 'and'"]),
        ("metrics.a > 1 and and metrics.b > 1", 18, ["after 'and'"]),
        ("metrics.a > 1 and ()", 19, ["after '('"]),
        # wrong type for the field
        ("metrics.auc = 'high'", 14, ["expected a number for metrics.auc", "metrics are numbers"]),
        ("metrics.auc LIKE '0.%'", 12, ["metrics are numbers, so 'LIKE' cannot be used"]),
        ("metrics.auc IN (1, 2)", 12, ["metrics are numbers, so 'IN'", "use one of =, !=, <, <="]),
        (
            "params.lr < 0.1",
            10,
            [
                "params are text",
                "'<' cannot be used on params.lr",
                "=, !=, LIKE, ILIKE, IN, NOT IN",
            ],
        ),
        ("tags.n >= 2", 7, ["tags are text", "'>=' cannot be used on tags.n"]),
        ("status = 'DONE'", 9, ["expected a run status", "'RUNNING', 'FINISHED', 'FAILED'"]),
        ("status = 1", 9, ["expected a run status"]),
        ("status IN ('FAILED', 'NOPE')", 21, ["expected a run status", "'KILLED'"]),
        ("status LIKE 'F%'", 7, ["status is a run status", "use one of =, !=, IN, NOT IN"]),
        ("name > 'a'", 5, ["name is text", "use one of =, !=, LIKE"]),
        ("start_time > 'yesterday'", 13, ["expected a time for start_time", "ISO-8601"]),
        ("end_time > '2024-13-01'", 11, ["expected a time for end_time"]),
        ("start_time LIKE '2024%'", 11, ["start_time is a time", "use one of =, !=, <"]),
        ("duration > '1h'", 11, ["expected a number of seconds for duration"]),
        ("duration IN (1)", 9, ["duration is in seconds"]),
        ("metrics.a > 1e999", 12, ["expected a number of a size a float can hold"]),
    ],
)
def test_error_messages(text: str, pos: int, fragments: list[str]) -> None:
    message = error_of(text)
    assert_points_at(message, text, pos)
    for fragment in fragments:
        assert fragment in message


def test_caret_lines_up_on_multi_line_filters() -> None:
    text = "metrics.auc > 1\n\tand params.lr < 2"
    message = error_of(text)
    assert_points_at(message, text, 31)
    assert message.splitlines()[1] == "  metrics.auc > 1  and params.lr < 2"


def test_long_tokens_are_shortened_in_messages() -> None:
    text = "params.a = '" + "x" * 200
    message = error_of(text)
    assert_points_at(message, text, 11)
    assert "found \"'" + "x" * 36 + '..."' in message


def test_deep_nesting_is_refused_not_a_crash() -> None:
    fine = "(" * 50 + "metrics.a > 1" + ")" * 50
    assert parse_filter(fine) == cmp(Field("metric", "a"), ">", 1.0)
    message = error_of("(" * 500 + "metrics.a > 1" + ")" * 500)
    assert "parentheses nest deeper than 100 levels" in message
    assert "at position 100" in message


def test_format_filter_refuses_empty_groups() -> None:
    with pytest.raises(ValueError, match="needs at least one item"):
        format_filter(And(()))


# ---------------------------------------------------------------- order_by


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("metrics.auc DESC", OrderBy(AUC, True)),
        ("metrics.auc", OrderBy(AUC, False)),
        ("start_time", OrderBy(Field("attribute", "start_time"), False)),
        ("params.model asc", OrderBy(MODEL, False)),
        ("  tags.team   Desc ", OrderBy(TEAM, True)),
        ("`metrics.my key` desc", OrderBy(Field("metric", "my key"), True)),
        ("metrics.`my key` DESC", OrderBy(Field("metric", "my key"), True)),
        ("attr.duration desc", OrderBy(Field("attribute", "duration"), True)),
    ],
)
def test_order_by(item: str, expected: OrderBy) -> None:
    assert parse_order_by([item]) == [expected]


def test_order_by_empty_and_many() -> None:
    assert parse_order_by(None) == []
    assert parse_order_by([]) == []
    assert parse_order_by(("status", "metrics.auc desc")) == [
        OrderBy(STATUS, False),
        OrderBy(AUC, True),
    ]
    assert parse_order_by("metrics.auc desc") == [OrderBy(AUC, True)]


@pytest.mark.parametrize(
    ("item", "pos", "fragments"),
    [
        ("metrics.auc sideways", 12, ["expected ASC or DESC after 'metrics.auc'", "'sideways'"]),
        ("metrics.auc desc extra", 17, ["expected the end of the order_by item after ASC/DESC"]),
        ("metircs.auc", 0, ["did you mean metrics.auc?"]),
        ("colour desc", 0, ["unknown field 'colour'", "duration, end_time"]),
        ("", 0, ["expected a field such as metrics.auc", "the end of the order_by item"]),
        ("desc", 0, ["unknown field 'desc'"]),
        ("metrics.auc > 1", 12, ["expected ASC or DESC", "'>'"]),
    ],
)
def test_order_by_errors(item: str, pos: int, fragments: list[str]) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_order_by([item])
    message = info.value.message
    assert_points_at(message, item, pos, label="order_by item")
    for fragment in fragments:
        assert fragment in message


def test_order_by_refuses_non_text_items() -> None:
    with pytest.raises(InvalidInput, match="order_by items must be text"):
        parse_order_by([3])  # type: ignore[list-item]


# ---------------------------------------------------------------- properties

# Explicit alphabets: Hypothesis builds a slow Unicode table on first use of st.text() without one,
# which trips its too-slow health check on a fresh checkout.
ANY_CHARS = string.printable + "\u00a0\u2003\x1c\x00éß€中😀"
KEY_CHARS = "abcxyzAZ019_-./: `\"'"
keys = st.text(KEY_CHARS, min_size=1, max_size=12)
numbers = st.floats(allow_nan=False, allow_infinity=False)
texts = st.text(ANY_CHARS, max_size=12)
TEXT_OPS = ["=", "!=", "LIKE", "ILIKE"]
NUMBER_OPS = ["=", "!=", "<", "<=", ">", ">="]


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    kinds: list[FieldKind] = ["metric", "param", "tag", "attribute"]
    kind = draw(st.sampled_from(kinds))
    if kind == "metric":
        return Comparison(
            Field("metric", draw(keys)), draw(st.sampled_from(NUMBER_OPS)), draw(numbers)
        )
    if kind == "attribute":
        key = draw(st.sampled_from(sorted(ATTRIBUTES)))
        field = Field("attribute", key)
        if key in ("start_time", "end_time", "duration"):
            return Comparison(field, draw(st.sampled_from(NUMBER_OPS)), draw(numbers))
        values = st.sampled_from(RUN_STATUSES) if key == "status" else texts
        ops = ["=", "!="] if key == "status" else TEXT_OPS
    else:
        field, values, ops = Field(kind, draw(keys)), texts, TEXT_OPS
    if draw(st.booleans()):
        op = draw(st.sampled_from(["IN", "NOT IN"]))
        return Comparison(field, op, tuple(draw(st.lists(values, min_size=1, max_size=3))))
    return Comparison(field, draw(st.sampled_from(ops)), draw(values))


def _group(kind: type[And] | type[Or], items: list[Expr]) -> Expr:
    """Build an And/Or in the normal form parse_filter returns (same-kind groups flattened)."""
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return kind(tuple(flat))


expressions: st.SearchStrategy[Expr] = st.recursive(
    comparisons(),
    lambda children: st.builds(
        _group, st.sampled_from([And, Or]), st.lists(children, min_size=2, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(expressions)
def test_format_then_parse_round_trips(expr: Expr) -> None:
    text = format_filter(expr)
    parsed = parse_filter(text)
    assert parsed == expr
    assert parsed is not None and format_filter(parsed) == text


@given(expressions)
def test_fields_of_lists_every_comparison_field(expr: Expr) -> None:
    def leaves(e: Expr) -> list[Comparison]:
        return [e] if isinstance(e, Comparison) else [c for i in e.items for c in leaves(i)]

    assert fields_of(expr) == {c.field for c in leaves(expr)}


FRAGMENTS = [
    "metrics.auc", "params.`a b`", "status", "tags.t", "start_time", " and ", " or ", " AND ",
    "(", ")", ",", "=", "!=", "<", ">=", " LIKE ", " IN ", " NOT IN ", "0.5", "-1", "'x'",
    "'FAILED'", "'2024-05-01'", '"q"', "`", "'", "!", " ", "foo", "metrics.", "&",
]  # fmt: skip


@settings(max_examples=400)
@given(
    st.one_of(
        st.text(ANY_CHARS, max_size=30),
        st.lists(st.sampled_from(FRAGMENTS), max_size=10).map("".join),
    )
)
def test_any_text_parses_or_fails_with_a_pointed_message(text: str) -> None:
    try:
        expr = parse_filter(text)
    except InvalidInput as exc:
        match = re.search(r" at position (\d+)\n", exc.message)
        assert match, exc.message
        assert_points_at(exc.message, text, int(match.group(1)))
        assert 0 <= int(match.group(1)) <= len(text)
    else:
        if expr is not None:
            assert parse_filter(format_filter(expr)) == expr
