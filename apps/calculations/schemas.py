"""API schemas: what clients send (`*In`) and what they get back (`*Out`), kept apart."""

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict, StrictInt, WithJsonSchema
from pydantic_core import PydanticCustomError

from apps.calculations.models import LAG_MAX, LAG_MIN, NAME_MAX_LENGTH, Calculation
from apps.core.formatting import DateInputError, parse_iso_date
from apps.core.schemas import (
    ListQuery,
    PageOut,
    SearchFilter,
    UtcDateTime,
    status_filter_description,
    status_filter_type,
)
from apps.jobs.schemas import CREATED_BY_DESCRIPTION, ActorOut, CreatedByFilter, JobStatusName, actor_out

Ordering = Literal["launched_at", "-launched_at"]


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
    status: JobStatusName
    pinned: bool = Field(description="Kept for ever: retention never removes it.")
    created_by: ActorOut | None = Field(
        description="Who queued it (and with which API token); null if unknown."
    )
    cancelled_by: ActorOut | None = Field(
        None, description="Who cancelled it; absent unless cancelled by someone."
    )

    @staticmethod
    def resolve_created_by(obj: Any) -> dict | None:
        return actor_out(obj.created_by, token=obj.created_by_token)

    @staticmethod
    def resolve_cancelled_by(obj: Any) -> dict | None:
        return actor_out(obj.cancelled_by)


if TYPE_CHECKING:
    StatusFilter = list[str] | None  # what the parameter holds; its schema is built at import
else:
    StatusFilter = status_filter_type(Calculation)


class CalculationListQuery(ListQuery):
    ordering: Ordering = Field("-launched_at", description="By launch date, ascending or descending.")
    status: StatusFilter = Field(None, description=status_filter_description(Calculation))
    search: SearchFilter = Field(None, description="Only runs whose name contains this, case-insensitively.")
    created_by: CreatedByFilter = Field(None, description=CREATED_BY_DESCRIPTION)


class CalculationListOut(PageOut):
    """A page of runs; `count` and `pages` cover every run the filters keep."""

    results: list[CalculationListItemOut]


Day = date  # a field named `date` cannot be annotated with the name it hides


class CalculationRowOut(Schema):
    """One result row. The units are stated here once (the CSV header carries only names)."""

    date: Day = Field(description="Day of the row, YYYY-MM-DD.")
    liquid: float = Field(description="Liquid rate, m3/day (oil + water).")
    oil: float = Field(description="Oil rate, m3/day.")
    water: float = Field(description="Water rate, m3/day.")
    wct: float = Field(description="Water cut, a fraction from 0 to 1 (water / liquid).")


class CalculationSummaryOut(Schema):
    """Figures of a finished run's rows, computed by PostgreSQL (`?fields=summary`).

    Each row stands for the days until the next row (`lag`), the last row only up to
    `date_fin` inclusive, so the cumulative volumes cover exactly the run's period.
    """

    rows: int = Field(description="Number of result rows.")
    first_date: date = Field(description="Date of the first row, YYYY-MM-DD.")
    last_date: date = Field(description="Date of the last row, YYYY-MM-DD.")
    cumulative_oil: float = Field(description="Cumulative oil, m3: oil rate x step days, summed.")
    cumulative_water: float = Field(description="Cumulative water, m3: water rate x step days, summed.")
    cumulative_liquid: float = Field(description="Cumulative liquid, m3: liquid rate x step days, summed.")
    wct_first: float = Field(description="Water cut of the first row, fraction 0-1.")
    wct_last: float = Field(description="Water cut of the last row, fraction 0-1.")
    wct_mean: float = Field(description="Mean water cut over the rows, fraction 0-1.")
    peak_liquid: float = Field(description="Highest liquid rate, m3/day.")
    peak_liquid_date: date = Field(description="First date the highest liquid rate occurs, YYYY-MM-DD.")
    oil_decline: float | None = Field(
        description="Decline of the oil rate over the period, % of the first row's oil rate: "
        "(first - last) / first x 100 (negative when it rose; null when the first rate is 0)."
    )


class CalculationDetailOut(Schema):
    """`result` is the table of a finished run and null otherwise (queued, running, failed);
    `?fields=-result` leaves it out (the key is absent).

    `error` is the failure of a failed run, null otherwise; `name`, `duration` and `summary`
    only when asked for with `?fields=name,duration,summary` (`duration`: seconds the run spent
    running, null until it ended; `summary`: null until the run has finished).
    """

    id: int
    launched_at: UtcDateTime = Field(description="When the run was submitted.")
    status: JobStatusName
    pinned: bool = Field(description="Kept for ever: retention never removes it.")
    created_by: ActorOut | None = Field(
        description="Who queued it (and with which API token); null if unknown."
    )
    cancelled_by: ActorOut | None = Field(None, description="Who cancelled it; present once someone did.")
    error: str | None = Field(description="Why the run failed; null unless `status` is `failed`.")
    result: list[CalculationRowOut] | None = Field(
        None,
        description="The rows of a finished run, by date; null until then; absent with `fields=-result`.",
    )
    name: str | None = None
    duration: float | None = None
    summary: CalculationSummaryOut | None = None
