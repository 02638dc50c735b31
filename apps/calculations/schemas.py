"""API schemas: what clients send (`*In`) and what they get back (`*Out`), kept apart."""

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict, PlainSerializer, StrictInt, WithJsonSchema
from pydantic_core import PydanticCustomError

from apps.calculations.models import CalculationStatus
from apps.calculations.services import LAG_MAX, LAG_MIN, NAME_MAX_LENGTH, DateInputError, iso, parse_iso_date

Ordering = Literal["launched_at", "-launched_at"]
Status = Literal["queued", "running", "finished", "failed", "cancelled"]
assert set(get_args(Status)) == set(CalculationStatus.values)  # one list of statuses



def _strict_date(value: Any) -> date:
    try:
        return parse_iso_date(value, field="date")
    except DateInputError as exc:
        raise PydanticCustomError(exc.rule, "Must be a real calendar date in the format YYYY-MM-DD.") from exc


# Exactly "YYYY-MM-DD": pydantic alone would also take unix timestamps and datetimes.
IsoDate = Annotated[
    date,
    BeforeValidator(_strict_date),
    WithJsonSchema({"type": "string", "format": "date", "example": "2024-01-01"}),
]
# Every timestamp leaves the API the same way: ISO 8601, UTC, microseconds, "Z".
UtcDateTime = Annotated[
    datetime,
    PlainSerializer(iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "example": "2024-01-01T12:00:00.000000Z"}),
]


class CalculationCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    date_start: IsoDate = Field(description="First day, YYYY-MM-DD.")
    date_fin: IsoDate = Field(description="Last day (inclusive), YYYY-MM-DD, not before date_start.")
    lag: StrictInt = Field(ge=LAG_MIN, le=LAG_MAX, description="Days between two result rows.", examples=[7])
    name: str | None = Field(
        None,
        max_length=NAME_MAX_LENGTH,
        description="Optional label; defaults to a readable summary of the inputs.",
    )


class CalculationCreatedOut(Schema):
    id: int


class CalculationListItemOut(Schema):
    id: int
    name: str
    launched_at: UtcDateTime = Field(description="When the run was submitted.")
    status: Status


class CalculationListOut(Schema):
    count: int = Field(description="Runs in total.")
    pages: int = Field(description="Pages in total (10 runs per page).")
    page: int
    results: list[CalculationListItemOut]


class CalculationRowOut(Schema):
    date: date
    liquid: float
    oil: float
    water: float
    wct: float


class CalculationDetailOut(Schema):
    """`result` is the table of a finished run and null otherwise (queued, running, failed).

    `error` is present for failed runs only; `name` and `duration` only when asked for with
    `?fields=name,duration` (`duration`: seconds the run spent running, null until it ended).
    """

    id: int
    launched_at: UtcDateTime = Field(description="When the run was submitted.")
    status: Status
    result: list[CalculationRowOut] | None
    error: str | None = None
    name: str | None = None
    duration: float | None = None
