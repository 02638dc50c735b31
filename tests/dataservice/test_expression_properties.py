"""Property tests of the compiler (hypothesis), against the real PostgreSQL.

1. Whatever the text, it either compiles to SQL made only of whitelisted tokens or raises
   ExpressionError: never another exception, never a character of the input pasted in.
2. Trees printed with the fewest parentheses the grammar allows parse back to the same
   tree (precedence and associativity hold for every shape, not only the listed examples).
3. Compiled SQL always runs: PostgreSQL answers a value equal to Python's math, or refuses
   with a data exception (a math error), never a syntax or type error.
"""

import math
import re

import psycopg2
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st
from psycopg2 import sql

from apps.dataservice.expression import (
    FUNCTIONS,
    Binary,
    ExpressionError,
    Negate,
    Number,
    Variable,
    compile_node,
    parse,
)
from tests.dataservice.strategies import evaluate, grammar_text, near_valid_text, show, trees

# Every token the compiler may emit. Literal floats are Python reprs: digits, one dot, an
# exponent; never a sign (minus signs are operators), never inf/nan.
_TOKEN = (
    r"\s+|\(|\)|,|\+|-|\*|/|::double precision"
    r"|\b(?:t|pi|power|" + "|".join(FUNCTIONS) + r")\b"
    r"|[0-9]+\.[0-9]+(?:e[+-][0-9]+)?|[0-9]+e[+-][0-9]+"
)
WHITELISTED_SQL = re.compile(f"(?:{_TOKEN})*")

INJECTIONS = [
    "t; drop table auth_user",
    "t); drop table auth_user; --",
    "t)--",
    "t -- comment",
    "t /* comment */",
    "'t'",
    '"t"',
    "t || 'x'",
    "pg_sleep(1)",
    "t + pg_sleep(10)",
    "(select 1)",
    "current_user",
    "t::text",
    "$$t$$",
    "e'\\x41'",
    "t\x00",
    "sin(t) union select 1",
    "exp(1) as y",
]


def assert_whitelisted(rendered: str) -> None:
    assert WHITELISTED_SQL.fullmatch(rendered), rendered
    # Two whitelisted tokens could still meet as a comment opener.
    assert "--" not in rendered and "/*" not in rendered and "*/" not in rendered, rendered


@pytest.mark.parametrize("text", INJECTIONS)
def test_it_refuses_injection_attempts(text):
    with pytest.raises(ExpressionError):
        compile_node(parse(text))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=250), grammar_text, near_valid_text))
@example(text="t + 2/t")
@example(text="-(-(-t))--t")
@example(text="1e308*10")
@example(text="t" * 201)
def test_any_text_compiles_to_whitelisted_sql_or_is_refused(pg, text):
    try:
        compiled = compile_node(parse(text))
    except ExpressionError as exc:
        event(f"refused: {exc.rule}")
        assert 0 <= exc.position <= len(text)
        assert exc.rule in {"syntax", "max_length", "too_deep", "blank"}
        return
    event("compiled")
    assert_whitelisted(compiled.as_string(pg))


def _parseable(text: str) -> bool:
    try:
        parse(text)
    except ExpressionError as exc:
        assert exc.rule in {"max_length", "too_deep"}, exc  # only limits may refuse a valid tree
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(tree=trees)
@example(tree=Negate(Binary("^", Variable(), Number(2.0))))
@example(tree=Binary("^", Number(2.0), Binary("^", Number(3.0), Number(2.0))))
@example(tree=Binary("-", Variable(), Negate(Number(1.0))))
def test_minimal_parentheses_parse_back_to_the_same_tree(tree):
    text = show(tree)
    assume(_parseable(text))

    assert parse(text) == tree


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees, t=st.sampled_from([1.5, 0.25, 7.0, 1_700_000_000.0, 1_763_856_000.123456]))
@example(tree=Binary("/", Number(2.0), Variable()), t=3.0)
@example(tree=Binary("+", Variable(), Binary("/", Number(2.0), Variable())), t=1_700_000_000.0)
def test_compiled_sql_runs_and_agrees_with_python_math(pg, tree, t):
    query = sql.SQL("SELECT {} FROM (VALUES ({}::double precision)) AS v(t)").format(
        compile_node(tree), sql.Literal(t)
    )
    with pg.cursor() as cursor:
        try:
            cursor.execute(query)
        except psycopg2.DataError:
            event("math error")
            return  # a math error at this t: the service reports it, see test_points_sql.py
        (value,) = cursor.fetchone()
    event("value")

    assert isinstance(value, float) and math.isfinite(value)
    expected = evaluate(tree, t)  # where PostgreSQL has a value, Python's math has the same one
    assert math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12), (show(tree), value, expected)
