"""How the product writes and reads values as text: one timestamp format for the API, the CSV
and the live events, one date format clients send, and one way to answer JSON that
PostgreSQL has already written."""

import json
from datetime import UTC, date, datetime
from typing import Any


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds and a `Z`, the one timestamp format of the API."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def json_object_with_raw(head: dict, **raw_json: str | None) -> str:
    """The JSON text of `{**head, **raw_json}`, where each `raw_json` value is already JSON
    text (None for null) and is copied into the document as it is, after the head's keys.

    The rule that keeps it safe: a raw value is JSON written by PostgreSQL (`json_agg`,
    `json_build_object`, `::json::text`) from typed columns, never text a user sent, and its
    key is a literal in our code. Only `head` goes through `json.dumps`; nothing validates
    the raw part, so anything else must go into `head`.

    The gain: the large part (a run's result rows, a chart's 100,000 points) is never parsed
    into Python objects and encoded again, which was most of a large answer's time (figures:
    docs/benchmarks.md, Calculation detail and Data service points).
    """
    members = [json.dumps(head)[1:-1]] if head else []
    members += [f"{json.dumps(key)}: {'null' if text is None else text}" for key, text in raw_json.items()]
    return "{" + ", ".join(members) + "}"


class DateInputError(ValueError):
    """A date input that is not exactly `YYYY-MM-DD` (rule `date_format`) or not a real day
    (rule `date_invalid`). Shared by the API schema and the service so both say the same."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def parse_iso_date(value: Any, *, field: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    # date.fromisoformat alone also takes "20200101" and "2020-W01-1": the API promises one format.
    digits = value[:4] + value[5:7] + value[8:] if isinstance(value, str) else ""
    shaped = isinstance(value, str) and len(value) == 10 and value[4] == value[7] == "-"
    if not (shaped and digits.isascii() and digits.isdigit()):
        raise DateInputError("date_format", f"{field} must be a date in the format YYYY-MM-DD.")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise DateInputError("date_invalid", f"{field} is not a real calendar date.") from exc
