"""The whitelist parser: precedence, signs, functions, lexical rules and error positions.

These tests need no database: trees are compared directly."""

import pytest

from apps.dataservice.expression import (
    MAX_DEPTH,
    MAX_LENGTH,
    Binary,
    Call,
    ExpressionError,
    Negate,
    Number,
    Pi,
    Variable,
    parse,
    tokenize,
)

T = Variable()


def n(value: float) -> Number:
    return Number(float(value))


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("t + 2/t", Binary("+", T, Binary("/", n(2), T))),
        ("1 + 2 * 3", Binary("+", n(1), Binary("*", n(2), n(3)))),
        ("(1 + 2) * 3", Binary("*", Binary("+", n(1), n(2)), n(3))),
        ("1 - 2 - 3", Binary("-", Binary("-", n(1), n(2)), n(3))),
        ("8 / 4 / 2", Binary("/", Binary("/", n(8), n(4)), n(2))),
        ("2 * t ^ 2", Binary("*", n(2), Binary("^", T, n(2)))),
        ("2^3^2", Binary("^", n(2), Binary("^", n(3), n(2)))),
        ("(2^3)^2", Binary("^", Binary("^", n(2), n(3)), n(2))),
        ("t**2", Binary("^", T, n(2))),
    ],
)
def test_it_applies_precedence_and_associativity(text, tree):
    assert parse(text) == tree


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("-t^2", Negate(Binary("^", T, n(2)))),
        ("(-t)^2", Binary("^", Negate(T), n(2))),
        ("2^-t", Binary("^", n(2), Negate(T))),
        ("--t", Negate(Negate(T))),
        ("+t", T),
        ("-+-t", Negate(Negate(T))),
        ("t - -1", Binary("-", T, Negate(n(1)))),
        ("t--1", Binary("-", T, Negate(n(1)))),
        ("2 * -t", Binary("*", n(2), Negate(T))),
        ("-2 * t", Binary("*", Negate(n(2)), T)),
    ],
)
def test_it_binds_unary_minus_looser_than_power_and_tighter_than_products(text, tree):
    assert parse(text) == tree


@pytest.mark.parametrize("function", ["sin", "cos", "tan", "exp", "ln", "log", "sqrt", "abs"])
def test_it_reads_every_whitelisted_function(function):
    assert parse(f"{function}(t + 1)") == Call(function, Binary("+", T, n(1)))


def test_it_reads_pi_and_nested_calls():
    assert parse("sin(2*pi*t/86400)") == Call(
        "sin", Binary("/", Binary("*", Binary("*", n(2), Pi()), T), n(86400))
    )
    assert parse("sqrt(abs(ln(t)))") == Call("sqrt", Call("abs", Call("ln", T)))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42.0),
        ("3.5", 3.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("2.5E-3", 0.0025),
        ("1e+2", 100.0),
    ],
)
def test_it_reads_integer_decimal_and_exponent_numbers(text, value):
    assert parse(text) == Number(value)


def test_it_ignores_case_and_whitespace():
    assert parse("  SIN( T )\t*\nPi\r") == parse("sin(t)*pi")
    assert parse("Sqrt(T)") == Call("sqrt", T)


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("(t + 1))", 7, "unexpected ')' at position 7"),
        ("t +", 3, "unexpected end of expression at position 3"),
        ("t * / t", 4, "unexpected '/' at position 4"),
        ("(t + 1", 6, "missing ')' at position 6 to close '(' at position 0"),
        ("sin(t", 5, "missing ')' at position 5 to close '(' at position 3"),
        ("sin t", 4, "expected '(' after 'sin' at position 4"),
        ("sin()", 4, "unexpected ')' at position 4"),
        ("2t", 1, "missing operator before 't' at position 1"),
        ("(t)(t)", 3, "missing operator before '(' at position 3"),
        ("(t 2)", 3, "missing operator before '2' at position 3"),
        ("(t,2)", 2, "unexpected character ',' at position 2"),
        ("pi(1)", 2, "missing operator before '(' at position 2"),
        ("t; drop table x", 1, "unexpected character ';' at position 1"),
        ("x + 1", 0, "unknown name 'x' at position 0"),
        ("t + pg_sleep(1)", 4, "unknown name 'pg_sleep' at position 4"),
        ("sinh(t)", 0, "unknown name 'sinh' at position 0"),
        ("1e", 0, "malformed number '1e' at position 0"),
        ("t + .", 4, "malformed number at position 4"),
        ("1e999", 0, "number '1e999' at position 0 is too large"),
        ("t = 1", 2, "unexpected character '=' at position 2"),
        ("t é", 2, "unexpected character 'é' at position 2"),
        ("٣", 0, "unexpected character '٣' at position 0"),  # not an ASCII digit
    ],
)
def test_it_reports_syntax_errors_with_their_position(text, position, fragment):
    with pytest.raises(ExpressionError) as caught:
        parse(text)

    assert caught.value.rule == "syntax"
    assert caught.value.position == position
    assert fragment in str(caught.value)


def test_it_lists_the_allowed_names_for_an_unknown_one():
    with pytest.raises(ExpressionError, match=r"allowed: t, pi, sin, cos, tan, exp, ln, log, sqrt, abs"):
        parse("y")


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_it_refuses_an_empty_expression(text):
    with pytest.raises(ExpressionError) as caught:
        parse(text)

    assert (caught.value.rule, caught.value.position) == ("blank", 0)


def test_it_refuses_text_over_the_length_limit():
    text = "t" + " " * MAX_LENGTH

    with pytest.raises(ExpressionError) as caught:
        parse(text)

    assert caught.value.rule == "max_length"
    assert caught.value.position == MAX_LENGTH
    assert f"at most {MAX_LENGTH}" in str(caught.value)


def test_it_accepts_text_exactly_at_the_length_limit():
    text = "t" + " " * (MAX_LENGTH - 1)

    assert parse(text) == T


def test_it_accepts_nesting_up_to_the_depth_limit():
    assert parse("(" * MAX_DEPTH + "t" + ")" * MAX_DEPTH) == T


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_DEPTH + 1) + "t" + ")" * (MAX_DEPTH + 1),
        "-" * (MAX_DEPTH + 1) + "t",
        "sin(" * (MAX_DEPTH + 1) + "t" + ")" * (MAX_DEPTH + 1),
    ],
)
def test_it_refuses_nesting_beyond_the_depth_limit(text):
    with pytest.raises(ExpressionError) as caught:
        parse(text)

    assert caught.value.rule == "too_deep"
    assert "nested too deeply" in str(caught.value)


def test_it_refuses_a_right_leaning_power_tower_beyond_the_depth_limit():
    text = "^".join(["2"] * (MAX_DEPTH + 2))

    with pytest.raises(ExpressionError) as caught:
        parse(text)

    assert caught.value.rule == "too_deep"


def test_it_refuses_text_that_is_not_a_string():
    with pytest.raises(TypeError):
        parse(42)  # type: ignore[arg-type]


def test_it_normalises_tokens():
    tokens = tokenize("SIN(t) ** 2")

    assert [(token.kind, token.text, token.position) for token in tokens] == [
        ("name", "sin", 0),
        ("op", "(", 3),
        ("name", "t", 4),
        ("op", ")", 5),
        ("op", "^", 7),
        ("number", "2", 10),
        ("end", "", 11),
    ]
