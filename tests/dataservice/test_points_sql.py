"""The ONE SQL statement, run on the real PostgreSQL: points checked against Python's math,
float arithmetic, the series bounds, and math errors located at their t."""

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DataError, connection, transaction

from apps.core.errors import DomainError, ServiceUnavailableError
from apps.core.http import error_status
from apps.dataservice.schemas import PointsRequest, body_parse, points_request_parse
from apps.dataservice.selectors import (
    _locate,
    _math_error,
    database_ping,
    locate_statement,
    points_select,
)

NOW = datetime(2025, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def request_for(expression: str, dt: float | str, interval: float | str) -> PointsRequest:
    """Decode the numbers the way the HTTP body is decoded (JSON text -> Decimal)."""
    return points_request_parse(
        data=body_parse(
            f'{{"expression": {json.dumps(expression)}, "dt": {dt}, "interval": {interval}}}'.encode()
        )
    )


def select(
    expression: str, dt: float | str = 1, interval: float | str = 30
) -> tuple[list[list[float]], object]:
    result = points_select(request=request_for(expression, dt, interval), now=NOW)
    return json.loads(result.points_json), result


def test_it_computes_t_plus_2_over_t_like_python():
    points, result = select("t + 2/t", dt=1, interval=30)

    assert result.count == len(points) == 30 * 24 + 1
    for t, y in points:
        assert y == pytest.approx(t + 2 / t, rel=1e-15)


def test_it_computes_sin_t_like_python():
    points, _ = select("sin(t)", dt=0.25, interval=2)

    assert len(points) == 2 * 24 * 4 + 1
    for t, y in points:
        assert math.isclose(y, math.sin(t), rel_tol=1e-12, abs_tol=1e-12)


def test_it_walks_from_now_minus_interval_to_now_in_steps_of_dt():
    points, result = select("t", dt=6, interval=2)
    start = (NOW - timedelta(days=2)).timestamp()

    assert result.count == 9
    assert [t for t, _ in points] == [start + i * 6 * 3600 for i in range(9)]
    assert points[-1][0] == NOW.timestamp()


def test_it_orders_points_by_t():
    points, _ = select("-t", dt=0.5, interval=10)

    ts = [t for t, _ in points]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)


def test_it_divides_in_floating_point():
    points, _ = select("2/t + 1/2", dt=24, interval=1)

    t, y = points[0]
    assert y == pytest.approx(2 / t + 0.5, rel=1e-15)
    assert 0.5 < y < 0.5 + 1e-8  # integer division would give exactly 0


def test_it_counts_decimal_steps_exactly():
    # 24 / 0.1 is 239.99999999999997 in binary floating point: 240 points, not 241, if
    # the count were computed with floats.
    points, result = select("t", dt="0.1", interval=1)

    assert result.count == len(points) == 241


def test_it_gives_one_point_when_dt_exceeds_the_interval():
    points, _ = select("pi", dt=48, interval=1)

    assert points == [[(NOW - timedelta(days=1)).timestamp(), math.pi]]


def test_it_evaluates_every_function_like_python():
    points, _ = select("sin(t)+cos(t)+tan(t)+exp(-t/1e9)+ln(t)+log(t)+sqrt(t)+abs(-t)^0.5", dt=12, interval=5)

    for t, y in points:
        expected = (
            math.sin(t)
            + math.cos(t)
            + math.tan(t)
            + math.exp(-t / 1e9)
            + math.log(t)
            + math.log10(t)
            + math.sqrt(t)
            + abs(-t) ** 0.5
        )
        assert math.isclose(y, expected, rel_tol=1e-12)


def test_it_produces_the_maximum_number_of_points():
    points, result = select("sin(t)", dt="0.5", interval="2083.3125")

    assert result.count == len(points) == 100_000


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("1/(t-t)", "division by zero"),
        ("ln(-t)", "cannot take logarithm of a negative number"),
        ("log(t-t)", "cannot take logarithm of zero"),
        ("sqrt(-t)", "cannot take square root of a negative number"),
        ("exp(t)", "result too large for double precision (overflow)"),
        ("(-t)^0.5", "a negative number raised to a non-integer power yields a complex result"),
        ("(t-t)^-1", "zero raised to a negative power is undefined"),
    ],
)
def test_it_reports_a_math_error_with_the_first_t_where_it_happens(expression, problem):
    with pytest.raises(DomainError) as caught:
        select(expression, dt=1, interval=1)

    start = NOW - timedelta(days=1)
    assert error_status(caught.value) == 422
    assert (
        caught.value.message
        == f"math error: {problem} at t={start.timestamp()!r} (2025-11-22T12:00:00.123456Z)"
    )
    assert caught.value.as_body()["errors"] == [
        {"field": "expression", "rule": "math_domain", "message": caught.value.message}
    ]


def test_it_locates_a_math_error_that_happens_late_in_the_series():
    start = (NOW - timedelta(days=1)).timestamp()
    # sqrt of a negative number from the 12th point on (t > start + 10.5 h)
    expression = f"sqrt({start + 10.5 * 3600} - t)"

    with pytest.raises(DomainError) as caught:
        select(expression, dt=1, interval=1)

    assert caught.value.message == (
        "math error: cannot take square root of a negative number "
        f"at t={start + 11 * 3600!r} (2025-11-22T23:00:00.123456Z)"
    )


def test_it_names_a_whole_second_without_decimals():
    now = datetime(2025, 11, 23, tzinfo=UTC)

    with pytest.raises(DomainError) as caught:
        points_select(request=request_for("1/(t-t)", 1, 1), now=now)

    assert caught.value.message == "math error: division by zero at t=1763769600 (2025-11-22T00:00:00Z)"


def test_it_reports_a_math_error_without_t_when_no_row_fails_again():
    with pytest.raises(DataError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT 1.0::double precision / 0")
    locate = locate_statement(request=request_for("t", 1, 1), now=NOW)

    error = _math_error(caught.value, locate)

    assert error.message == "math error: division by zero"
    assert error.errors[0].rule == "math_domain"


def test_it_answers_503_when_the_statement_times_out():
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 1")  # undone when the test's transaction rolls back

    with pytest.raises(ServiceUnavailableError) as caught:
        select("sin(t)", dt="0.5", interval="2083.3125")

    assert error_status(caught.value) == 503
    assert "statement timeout" in caught.value.message


def test_it_gives_up_locating_when_the_locating_statement_times_out():
    locate = locate_statement(request=request_for("sqrt(t)", "0.5", "2083.3125"), now=NOW)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 1")

    assert _locate(locate) is None


def test_it_pings_the_database():
    assert database_ping() is True
