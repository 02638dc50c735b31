"""Hypothesis strategies for expressions (random trees, their shortest text, near misses) and
the reference semantics in Python's math that compiled SQL must agree with."""

import math

from hypothesis import strategies as st

from apps.dataservice.expression import FUNCTIONS, Binary, Call, Negate, Node, Number, Pi, Variable

# Text made of the grammar's own characters reaches deep into the parser far more often
# than arbitrary unicode does.
grammar_text = st.text(alphabet="t pi sin cos tan exp ln log sqrt abs 0123456789.eE+-*/^()\t", max_size=60)


numbers = st.one_of(
    st.integers(min_value=0, max_value=10**6).map(float),
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, 1e-3, 2.5e-7, 1e16]),
)
leaves = st.one_of(numbers.map(Number), st.just(Variable()), st.just(Pi()))


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(Negate, children),
        st.builds(Binary, st.sampled_from(["+", "-", "*", "/", "^"]), children, children),
        st.builds(Call, st.sampled_from(sorted(FUNCTIONS)), children),
    )


trees = st.recursive(leaves, _extend, max_leaves=12)

# Binding strength: sums < products < unary sign < power < atoms.
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = 1, 2, 3, 4, 5


def _strength(node: Node) -> int:
    match node:
        case Binary("+" | "-", _, _):
            return _SUM
        case Binary("*" | "/", _, _):
            return _PRODUCT
        case Negate():
            return _UNARY
        case Binary("^", _, _):
            return _POWER
    return _ATOM


def show(node: Node) -> str:
    """Print a tree with only the parentheses the grammar needs."""

    def at_least(child: Node, strength: int) -> str:
        text = show(child)
        return text if _strength(child) >= strength else f"({text})"

    match node:
        case Number(value):
            return repr(value)
        case Variable():
            return "t"
        case Pi():
            return "pi"
        case Negate(operand):
            return "-" + at_least(operand, _UNARY)
        case Call(function, argument):
            return f"{function}({show(argument)})"
        case Binary("^", base, exponent):
            return f"{at_least(base, _ATOM)}^{at_least(exponent, _UNARY)}"
        case Binary(operator, left, right):
            strength = _strength(node)
            return f"{at_least(left, strength)} {operator} {at_least(right, strength + 1)}"
    raise TypeError(node)


def _mutate(text: str, where: int, insert: str, delete: int, upper: bool) -> str:
    where %= len(text) + 1
    text = text[:where] + insert + text[where + delete :]
    return text.upper() if upper else text


# Valid expressions, some with a few characters inserted or removed: near misses exercise
# every error path of the parser, and the untouched ones every path of the compiler.
near_valid_text = st.builds(
    _mutate,
    trees.map(show),
    st.integers(min_value=0, max_value=250),
    st.one_of(st.just(""), st.text(alphabet="()+-*/^.e,;' t", max_size=3), st.text(max_size=2)),
    st.integers(min_value=0, max_value=2),
    st.booleans(),
)


_PYTHON_FUNCTIONS = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "exp": math.exp,
    "ln": math.log,
    "log": math.log10,
    "sqrt": math.sqrt,
    "abs": math.fabs,
}


def evaluate(node: Node, t: float) -> float:
    """The reference semantics in Python's math: what the SQL must agree with.

    Raises ValueError, ZeroDivisionError or OverflowError where the math is undefined."""
    match node:
        case Number(value):
            return value
        case Variable():
            return t
        case Pi():
            return math.pi
        case Negate(operand):
            return -evaluate(operand, t)
        case Call(function, argument):
            return _PYTHON_FUNCTIONS[function](evaluate(argument, t))
        case Binary(operator, left, right):
            a, b = evaluate(left, t), evaluate(right, t)
            if operator == "+":
                return a + b
            if operator == "-":
                return a - b
            if operator == "*":
                return a * b
            if operator == "/":
                return a / b
            return math.pow(a, b)
    raise TypeError(node)
