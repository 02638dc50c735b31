"""The input of `POST /points` and its checks: every refusal names the field and the rule.

Numbers are read from the JSON text as `Decimal`, so the point count of `dt = 0.1` hours over
one day is exactly 241 and never 240 because 24/0.1 is 239.99999999999997 in binary floats.
"""

import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings

from apps.core.errors import DomainError, FieldError
from apps.dataservice.expression import ExpressionError, Node, parse

FIELDS = ("expression", "dt", "interval")
MICROSECONDS_PER_HOUR = 3_600_000_000
MICROSECONDS_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class ExpressionFieldError(FieldError):
    """A refused expression, with the 0-based position of the offending character."""

    position: int = 0

    def as_dict(self) -> dict:
        return {**super().as_dict(), "position": self.position}


@dataclass(frozen=True)
class PointsRequest:
    expression: str  # as sent
    tree: Node
    dt: Decimal  # hours
    interval: Decimal  # days
    step_us: int  # dt in whole microseconds, the resolution of PostgreSQL's interval
    span_us: int  # interval in whole microseconds
    count: int  # the number of points the statement will produce

    @property
    def dt_json(self) -> int | float:
        return _json_number(self.dt)

    @property
    def interval_json(self) -> int | float:
        return _json_number(self.interval)


class _NonFinite:
    """What NaN, Infinity and -Infinity in the JSON text parse to: never a valid number."""


_NON_FINITE = _NonFinite()


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# Exponents a message spells out in full; past them a number reads '1E+999999999', because its
# digits would not fit in a message (and normalizing it overflows Decimal's context).
_PLAIN_EXPONENTS = range(-30, 31)


def _plain(value: Decimal) -> str:
    """'0.0001' rather than '1E-4' in messages."""
    if value.is_zero() or value.adjusted() in _PLAIN_EXPONENTS:
        return format(value.normalize(), "f")
    return str(value)


def _limit(name: str) -> Decimal:
    return Decimal(str(getattr(settings, name)))


def body_parse(body: bytes) -> Any:
    """The JSON document in `body`; `ValueError` when it is not JSON (or nests too deeply to read)."""
    try:
        return json.loads(
            body,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=lambda _name: _NON_FINITE,
        )
    except RecursionError:
        # The decoder recurses per level; no valid request nests more than one.
        raise ValueError("arrays or objects nest too deeply") from None


def _number(data: dict, name: str, unit: str, errors: list[FieldError]) -> Decimal | None:
    if name not in data:
        errors.append(FieldError(name, "required", f"{name} is required ({unit})"))
        return None
    value = data[name]
    if value is _NON_FINITE:
        errors.append(FieldError(name, "type", f"{name} must be a finite number ({unit})"))
        return None
    if not isinstance(value, Decimal):  # bool, str, null, list, object
        errors.append(FieldError(name, "type", f"{name} must be a number ({unit}), not {_json_type(value)}"))
        return None
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def points_request_parse(*, data: Any) -> PointsRequest:
    """Check a decoded body; raise `DomainError` (422) listing every problem found."""
    if not isinstance(data, dict):
        raise DomainError(
            "The body must be a JSON object with expression, dt and interval",
            rule="type",
            errors=[FieldError(None, "type", f"The body must be a JSON object, not {_json_type(data)}")],
        )
    errors: list[FieldError] = []
    tree = None
    expression = data.get("expression")
    if "expression" not in data:
        errors.append(FieldError("expression", "required", 'expression is required, for example "t + 2/t"'))
    elif not isinstance(expression, str):
        errors.append(
            FieldError("expression", "type", f"expression must be a string, not {_json_type(expression)}")
        )
    else:
        try:
            tree = parse(expression)
        except ExpressionError as exc:
            errors.append(ExpressionFieldError("expression", exc.rule, exc.message, exc.position))

    dt = _number(data, "dt", "hours", errors)
    min_dt, max_dt = _limit("DATASERVICE_MIN_DT_HOURS"), _limit("DATASERVICE_MAX_DT_HOURS")
    if dt is not None and not min_dt <= dt <= max_dt:
        errors.append(
            FieldError(
                "dt",
                "range",
                f"dt must be between {_plain(min_dt)} and {_plain(max_dt)} hours, got {_plain(dt)}",
            )
        )
        dt = None
    interval = _number(data, "interval", "days", errors)
    max_interval = _limit("DATASERVICE_MAX_INTERVAL_DAYS")
    if interval is not None and not 0 < interval <= max_interval:
        errors.append(
            FieldError(
                "interval",
                "range",
                f"interval must be greater than 0 and at most {_plain(max_interval)} days, "
                f"got {_plain(interval)}",
            )
        )
        interval = None

    count = step_us = span_us = 0
    if dt is not None and interval is not None:
        # At least 1 µs even if DATASERVICE_MIN_DT_HOURS were configured as 0.
        step_us = max(1, int((dt * MICROSECONDS_PER_HOUR).to_integral_value(ROUND_HALF_EVEN)))
        span_us = int((interval * MICROSECONDS_PER_DAY).to_integral_value(ROUND_HALF_EVEN))
        count = span_us // step_us + 1
        max_points = settings.DATASERVICE_MAX_POINTS
        if count > max_points:
            smallest_dt = (Decimal(span_us) / max(max_points - 1, 1) / MICROSECONDS_PER_HOUR).quantize(
                Decimal("0.0001"), rounding=ROUND_CEILING
            )
            errors.append(
                FieldError(
                    None,
                    "too_many_points",
                    f"interval {_plain(interval)} days at dt {_plain(dt)} hours gives {count} points; "
                    f"at most {max_points} are allowed "
                    f"(use dt >= {_plain(smallest_dt)} hours or a shorter interval)",
                )
            )

    for name in sorted(set(data) - set(FIELDS)):
        shown = name if len(name) <= 40 else name[:40] + "…"
        errors.append(
            FieldError(
                name,
                "unknown_field",
                f"unknown field '{shown}': only expression, dt and interval are accepted",
            )
        )

    if errors:
        # The detail alone must tell the whole story: callers store it as the error text.
        detail = "; ".join(
            f"expression: {error.message}"
            if isinstance(error, ExpressionFieldError) and not error.message.startswith("expression")
            else error.message
            for error in errors
        )
        raise DomainError(detail, errors=errors)
    assert isinstance(expression, str) and tree is not None and dt is not None and interval is not None
    return PointsRequest(
        expression=expression,
        tree=tree,
        dt=dt,
        interval=interval,
        step_us=step_us,
        span_us=span_us,
        count=count,
    )
