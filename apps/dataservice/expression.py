"""The expression language of the data service: a whitelist parser and its SQL compiler.

A function y = f(t) arrives as text from the user. It is never pasted into SQL: it is read
by a hand-written recursive-descent parser that knows only the pieces below, turned into a
small tree, and the tree is compiled into a `psycopg2.sql.Composed` built exclusively from
fixed `sql.SQL` fragments (operators and function names from the tables in this module) and
`sql.Literal` floats. Nothing the user typed reaches the database as text.

Grammar (EBNF; `^` binds tighter than unary minus and is right-associative, as in
mathematics and Python: `-t^2` is `-(t^2)`, `2^3^2` is `2^(3^2)`, `2^-t` is `2^(-t)`)::

    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := ("-" | "+") unary | power
    power      := atom (("^" | "**") unary)?
    atom       := NUMBER | "t" | "pi" | FUNCTION "(" expression ")" | "(" expression ")"
    FUNCTION   := "sin" | "cos" | "tan" | "exp" | "ln" | "log" | "sqrt" | "abs"
    NUMBER     := digits ["." digits] [("e" | "E") ["+" | "-"] digits] | "." digits [exponent]

Lexical rules:

- Names are case-insensitive (`SIN(T)`, `Pi`). `t` is the time in unix seconds; `pi` is the
  constant; `log` is the base-10 logarithm and `ln` the natural one.
- Spaces, tabs and line breaks between tokens are ignored; nothing else is (no `;`, `,`,
  quotes, comments, other names or non-ASCII characters).
- Multiplication is explicit: `2t` and `2(t)` are refused with a hint to write `2*t`.
- `**` is accepted as a synonym of `^`.
- At most `MAX_LENGTH` characters and `MAX_DEPTH` nested levels (parentheses, function
  calls, unary signs and exponents each open a level).

Errors raise `ExpressionError` with a message that names the 0-based character position,
for example "unexpected ')' at position 7".

Arithmetic is IEEE double precision throughout: every number is cast to `double precision`
and `t` is a `double precision` column, so `2/t` is never integer division.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from psycopg2 import sql

MAX_LENGTH: Final = 200
MAX_DEPTH: Final = 32

# The only SQL the compiler can emit, besides float literals and these templates' punctuation.
FUNCTIONS: Final[dict[str, sql.SQL]] = {
    "sin": sql.SQL("sin"),
    "cos": sql.SQL("cos"),
    "tan": sql.SQL("tan"),
    "exp": sql.SQL("exp"),
    "ln": sql.SQL("ln"),
    "log": sql.SQL("log"),  # PostgreSQL's log(double precision) is base 10
    "sqrt": sql.SQL("sqrt"),
    "abs": sql.SQL("abs"),
}
BINARY_OPERATORS: Final[dict[str, sql.SQL]] = {
    "+": sql.SQL("({} + {})"),
    "-": sql.SQL("({} - {})"),
    "*": sql.SQL("({} * {})"),
    "/": sql.SQL("({} / {})"),
    # PostgreSQL's own `^` is left-associative; power() with explicit arguments is unambiguous.
    "^": sql.SQL("power({}, {})"),
}
# Unary minus is always parenthesised, so two minus signs can never meet as a `--` comment.
NEGATE: Final = sql.SQL("(-{})")
CALL: Final = sql.SQL("{}({})")
NUMBER: Final = sql.SQL("{}::double precision")
VARIABLE: Final = sql.SQL("t")
PI: Final = sql.SQL("pi()")

CONSTANTS: Final = frozenset({"t", "pi"})
NAMES: Final = CONSTANTS | FUNCTIONS.keys()

_WHITESPACE: Final = " \t\r\n"
# ASCII digits only: Python's \d and float() also accept other scripts' digits.
_NUMBER_RE: Final = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SYMBOLS: Final = ("**", "+", "-", "*", "/", "^", "(", ")")


class ExpressionError(ValueError):
    """The text is not an expression of the grammar.

    `position` is the 0-based index of the offending character (the text's length for an
    unexpected end); `rule` is "syntax", "max_length", "too_deep" or "blank".
    """

    def __init__(self, message: str, *, position: int, rule: str = "syntax") -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.rule = rule


# --- Tokens -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "number", "name", "op", "end"
    text: str  # as typed (names lower-cased); "**" is normalised to "^"
    position: int
    value: float = 0.0


def _describe(token: Token) -> str:
    return "end of expression" if token.kind == "end" else f"'{token.text}'"


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens, refusing any character or name outside the whitelist."""
    tokens: list[Token] = []
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char in _WHITESPACE:
            position += 1
            continue
        if char.isascii() and (char.isdigit() or char == "."):
            match = _NUMBER_RE.match(text, position)
            if match is None:  # a lone "."
                raise ExpressionError(f"malformed number at position {position}", position=position)
            literal = match.group()
            end = match.end()
            if end < length and text[end] in "eE" and "e" not in literal.lower():
                raise ExpressionError(
                    f"malformed number '{literal}{text[end]}' at position {position}: "
                    "an exponent needs digits, as in 1e5",
                    position=position,
                )
            value = float(literal)
            if not math.isfinite(value):
                raise ExpressionError(
                    f"number '{literal}' at position {position} is too large", position=position
                )
            tokens.append(Token("number", literal, position, value))
            position = end
            continue
        if char.isascii() and (char.isalpha() or char == "_"):
            match = _NAME_RE.match(text, position)
            assert match is not None  # the first character matches by construction
            name = match.group().lower()
            if name not in NAMES:
                allowed = ", ".join(["t", "pi", *FUNCTIONS])
                shown = match.group() if len(match.group()) <= 20 else match.group()[:20] + "…"
                raise ExpressionError(
                    f"unknown name '{shown}' at position {position} (allowed: {allowed})",
                    position=position,
                )
            tokens.append(Token("name", name, position))
            position = match.end()
            continue
        for symbol in _SYMBOLS:
            if text.startswith(symbol, position):
                tokens.append(Token("op", "^" if symbol == "**" else symbol, position))
                position += len(symbol)
                break
        else:
            raise ExpressionError(f"unexpected character {char!r} at position {position}", position=position)
    tokens.append(Token("end", "", length))
    return tokens


# --- Tree ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Number:
    value: float


@dataclass(frozen=True, slots=True)
class Variable:
    pass


@dataclass(frozen=True, slots=True)
class Pi:
    pass


@dataclass(frozen=True, slots=True)
class Negate:
    operand: "Node"


@dataclass(frozen=True, slots=True)
class Binary:
    operator: str  # a key of BINARY_OPERATORS
    left: "Node"
    right: "Node"


@dataclass(frozen=True, slots=True)
class Call:
    function: str  # a key of FUNCTIONS
    argument: "Node"


Node = Number | Variable | Pi | Negate | Binary | Call


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(
                f"expression is nested too deeply at position {token.position} "
                f"(at most {MAX_DEPTH} levels of parentheses, functions, signs and powers)",
                position=token.position,
                rule="too_deep",
            )

    def leave(self) -> None:
        self.depth -= 1

    def unexpected(self, token: Token) -> ExpressionError:
        if token.kind == "end":
            return ExpressionError(
                f"unexpected end of expression at position {token.position}", position=token.position
            )
        return ExpressionError(
            f"unexpected {_describe(token)} at position {token.position}", position=token.position
        )

    def parse(self) -> Node:
        node = self.expression()
        if self.current.kind != "end":
            raise self.after_operand(self.current)
        return node

    def after_operand(self, token: Token) -> ExpressionError:
        """The error for `token` following a complete operand where an operator or the end was due."""
        if token.kind in ("number", "name") or token.text == "(":
            return ExpressionError(
                f"missing operator before {_describe(token)} at position {token.position} "
                "(multiplication is written with '*', as in 2*t)",
                position=token.position,
            )
        return self.unexpected(token)

    def _left_associative(self, operators: str, operand: Callable[[], Node]) -> Node:
        """`operand (op operand)*` for one precedence level, grouped from the left."""
        node = operand()
        while self.current.kind == "op" and self.current.text in operators:
            operator = self.advance().text
            node = Binary(operator, node, operand())
        return node

    def expression(self) -> Node:
        return self._left_associative("+-", self.term)

    def term(self) -> Node:
        return self._left_associative("*/", self.unary)

    def unary(self) -> Node:
        token = self.current
        if token.kind == "op" and token.text in "+-":
            self.advance()
            self.enter(token)
            operand = self.unary()
            self.leave()
            return operand if token.text == "+" else Negate(operand)
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        token = self.current
        if token.kind == "op" and token.text == "^":
            self.advance()
            self.enter(token)
            exponent = self.unary()  # recursion through unary makes ^ right-associative
            self.leave()
            return Binary("^", base, exponent)
        return base

    def atom(self) -> Node:
        token = self.advance()
        if token.kind == "number":
            return Number(token.value)
        if token.kind == "name":
            if token.text == "t":
                return Variable()
            if token.text == "pi":
                return Pi()
            opening = self.current
            if not (opening.kind == "op" and opening.text == "("):
                raise ExpressionError(
                    f"expected '(' after '{token.text}' at position {opening.position}",
                    position=opening.position,
                )
            self.advance()
            self.enter(opening)
            argument = self.expression()
            self.leave()
            self.close(opening)
            return Call(token.text, argument)
        if token.kind == "op" and token.text == "(":
            self.enter(token)
            node = self.expression()
            self.leave()
            self.close(token)
            return node
        raise self.unexpected(token)

    def close(self, opening: Token) -> None:
        token = self.current
        if token.kind == "op" and token.text == ")":
            self.advance()
            return
        if token.kind == "end":
            raise ExpressionError(
                f"missing ')' at position {token.position} to close '(' at position {opening.position}",
                position=token.position,
            )
        raise self.after_operand(token)


def parse(text: str) -> Node:
    """Parse `text` into a tree, or raise `ExpressionError` saying what is wrong and where."""
    if not isinstance(text, str):
        raise TypeError("expression must be a string")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression is {len(text)} characters long; at most {MAX_LENGTH} are allowed",
            position=MAX_LENGTH,
            rule="max_length",
        )
    if not text.strip(_WHITESPACE):
        raise ExpressionError("expression is empty", position=0, rule="blank")
    return _Parser(tokenize(text)).parse()


# --- SQL ----------------------------------------------------------------------------------


def compile_node(node: Node) -> sql.Composable:
    """The SQL of one tree node, a double precision value of the column `t`."""
    match node:
        case Number(value):
            return NUMBER.format(sql.Literal(float(value)))
        case Variable():
            return VARIABLE
        case Pi():
            return PI
        case Negate(operand):
            return NEGATE.format(compile_node(operand))
        case Binary(operator, left, right):
            return BINARY_OPERATORS[operator].format(compile_node(left), compile_node(right))
        case Call(function, argument):
            return CALL.format(FUNCTIONS[function], compile_node(argument))
    raise TypeError(f"not an expression node: {node!r}")  # pragma: no cover - exhaustive above
