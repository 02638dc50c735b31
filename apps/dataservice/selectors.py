"""Reads of the data service: the points of a function, computed by ONE SQL statement.

The statement walks `generate_series` over timestamps from `now - interval` to `now` in steps
of `dt`, turns each timestamp into unix seconds (`t`, double precision), evaluates the
compiled expression and aggregates `[[t, y], ...]` ordered by `t` into JSON text inside
PostgreSQL. Python never touches the individual points: the text is spliced into the HTTP
response as it came from the database.

A mathematical error (division by zero, log of a negative number, overflow, ...) aborts
the statement. Only then, a second statement (a `DO` block running the same series) finds
the first `t` at which it happens, so the error message can say where.
"""

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg2
from django.db import DataError, OperationalError, connection, transaction
from psycopg2 import sql

from apps.core.errors import DomainError, FieldError, ServiceUnavailableError
from apps.dataservice.expression import compile_node
from apps.dataservice.schemas import PointsRequest

logger = logging.getLogger(__name__)

POINTS_STATEMENT = sql.SQL(
    """SELECT count(*), array_to_json(array_agg(ARRAY[s.t, {y}] ORDER BY s.t))::text
FROM (
    SELECT date_part('epoch', ts) AS t
    FROM generate_series({start}::timestamptz, {end}::timestamptz, {step}::interval) AS ts
) AS s"""
)

# Runs only after POINTS_STATEMENT failed: evaluates the same series row by row and re-raises
# the first error with that row's t in DETAIL. A DO block takes no parameters, so the bounds
# are rendered as literals (they are datetimes and a timedelta, never user text).
LOCATE_STATEMENT = sql.SQL(
    """DO $calcboard$
DECLARE
    t double precision;
    y double precision;
BEGIN
    FOR t IN
        SELECT date_part('epoch', ts)
        FROM generate_series({start}::timestamptz, {end}::timestamptz, {step}::interval) AS ts
        ORDER BY ts
    LOOP
        y := {y};
    END LOOP;
EXCEPTION WHEN data_exception THEN
    RAISE EXCEPTION USING ERRCODE = SQLSTATE, MESSAGE = SQLERRM, DETAIL = t::text;
END
$calcboard$"""
)

# PostgreSQL's words for these are terse; the rest ("cannot take logarithm of a negative
# number", "zero raised to a negative power is undefined", ...) read well as they are.
_FRIENDLIER = {
    "value out of range: overflow": "result too large for double precision (overflow)",
    "value out of range: underflow": "result too close to zero for double precision (underflow)",
}


# How PostgreSQL prints a finite double precision (the DETAIL of the locating statement).
_FLOAT_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:e[+-][0-9]+)?")


@dataclass(frozen=True)
class Points:
    count: int
    points_json: str  # '[[t, y], ...]', ordered by t


def _bounds(request: PointsRequest, now: datetime) -> dict[str, sql.Composable]:
    start = now - timedelta(microseconds=request.span_us)
    return {
        "start": sql.Literal(start),
        "end": sql.Literal(now),
        "step": sql.Literal(timedelta(microseconds=request.step_us)),
    }


def points_statement(*, request: PointsRequest, now: datetime) -> sql.Composed:
    """The ONE statement that computes the points (also run bare by the benchmark's floor)."""
    return POINTS_STATEMENT.format(y=compile_node(request.tree), **_bounds(request, now))


def locate_statement(*, request: PointsRequest, now: datetime) -> sql.Composed:
    """The DO block that finds the first t at which `request`'s expression fails."""
    return LOCATE_STATEMENT.format(y=compile_node(request.tree), **_bounds(request, now))


def points_select(*, request: PointsRequest, now: datetime | None = None) -> Points:
    """The points of `request` over [now - interval, now]; raises `DomainError` on a math error
    (rule "math_domain") and `ServiceUnavailableError` when the database does not answer."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    statement = points_statement(request=request, now=now)
    try:
        # atomic: a failed statement leaves the connection usable for the locating one, also
        # inside a test's transaction (a savepoint there).
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
            count, points_json = cursor.fetchone()
    except DataError as exc:
        raise _math_error(exc, locate_statement(request=request, now=now)) from exc
    except OperationalError as exc:
        raise _unavailable(exc) from exc
    return Points(count=count, points_json=points_json)


def _math_error(exc: DataError, locate: sql.Composable) -> DomainError:
    problem = _problem(exc)
    t = _locate(locate)
    if t is None:
        message = f"math error: {problem}"
    else:
        moment = datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")
        message = f"math error: {problem} at t={_number(t)} ({moment})"
    error = FieldError("expression", "math_domain", message)
    return DomainError(message, errors=[error])


def _problem(exc: Exception) -> str:
    cause = exc.__cause__ if isinstance(exc.__cause__, psycopg2.Error) else exc
    diag = getattr(cause, "diag", None)
    primary = (diag.message_primary if diag else None) or str(exc).strip().splitlines()[0]
    return _FRIENDLIER.get(primary, primary)


def _locate(statement: sql.Composable) -> float | None:
    """The first t at which the expression fails, found by the DO block; None if it does not fail."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    except DataError as exc:
        detail = getattr(getattr(exc.__cause__, "diag", None), "message_detail", None) or ""
        return float(detail) if _FLOAT_TEXT.fullmatch(detail) else None
    except OperationalError:
        logger.warning("could not locate the failing t", exc_info=True)
        return None
    return None


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _unavailable(exc: OperationalError) -> ServiceUnavailableError:
    cause = exc.__cause__
    if isinstance(cause, psycopg2.errors.QueryCanceled):
        return ServiceUnavailableError(
            "the database did not finish the statement in time (statement timeout)"
        )
    logger.warning("database unavailable", exc_info=exc)
    return ServiceUnavailableError("the database is unavailable")


def database_ping() -> bool:
    """Whether PostgreSQL answers a trivial query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except (OperationalError, psycopg2.Error):
        logger.warning("health: database unavailable", exc_info=True)
        return False
