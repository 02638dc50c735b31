"""API schemas of wells and imports: what clients send (`*In`) and get back (`*Out`)."""

from datetime import date
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import ConfigDict, WithJsonSchema

from apps.core.schemas import ListQuery, PageOut, SearchFilter
from apps.jobs.schemas import ActorOut, JobStatusName
from apps.wells.models import NAME_MAX_LENGTH, NOTES_MAX_LENGTH

Ordering = Literal["name", "-name", "created_at", "-created_at"]
FrequencyName = Literal["daily", "monthly"]
ModeName = Literal["append", "replace"]
# Timestamps leave the API in one format (apps.core.formatting.iso): UTC, microseconds, "Z".
Timestamp = Annotated[
    str, WithJsonSchema({"type": "string", "format": "date-time", "example": "2024-01-01T12:00:00.000000Z"})
]
Day = date  # a field named `date` cannot be annotated with the name it hides


class WellCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, description="Unique within its field.")
    field: str = Field(
        min_length=1, max_length=NAME_MAX_LENGTH, description="The field's name; created on first use."
    )
    notes: str = Field("", max_length=NOTES_MAX_LENGTH)
    frequency: FrequencyName = Field("daily", description="Daily history (hours_on) or monthly (days_on).")


class WellOut(Schema):
    id: int
    name: str
    field: str
    notes: str
    frequency: FrequencyName
    created_at: Timestamp
    first_date: Day | None = Field(description="First day of the history.")
    last_date: Day | None = Field(description="Last day of the history.")
    record_count: int
    cumulative_oil: float = Field(description="m3 over the whole history.")
    cumulative_water: float = Field(description="m3 over the whole history.")
    cumulative_gas: float = Field(description="sm3 over the whole history.")
    last_month: Day | None = Field(description="First day of the last month with records.")
    last_month_oil_rate: float | None = Field(
        description="Oil per producing day over the last month, m3/day."
    )
    last_month_water_cut: float | None = Field(description="Water / (oil + water) over the last month, 0-1.")
    history_updated_at: Timestamp | None = Field(description="When an import last changed the history.")


# A field's name as a query parameter: PostgreSQL text cannot hold NUL.
FieldName = Annotated[
    str | None, WithJsonSchema({"type": "string", "maxLength": 200, "pattern": "^[^\\x00]*$"})
]


class WellListQuery(ListQuery):
    ordering: Ordering = Field("name", description="By name or creation time, ascending or descending.")
    field: FieldName = Field(None, description="Only the wells of this field (its exact name).")
    search: SearchFilter = Field(None, description="Only wells whose name contains this, case-insensitively.")


class WellListOut(PageOut):
    results: list[WellOut]


class ImportProblemOut(Schema):
    line: int | None = Field(description="The file's line (the header is line 1); null for the whole file.")
    column: str | None = Field(description="Our column name (date, oil, ...) or the file's unknown one.")
    rule: str
    value: str | None = Field(description="The value as written in the file.")
    message: str


class HistoryImportOut(Schema):
    id: int
    well_id: int | None
    field: str | None = Field(description="Multi-well imports: the field whose wells the file names.")
    mode: ModeName
    columns: dict[str, str] = Field(description="The column mapping: our name -> the file's.")
    date_format: str
    file_name: str
    file_size: int = Field(description="Bytes.")
    status: JobStatusName
    progress: int
    records: int = Field(description="Records written (finished imports).")
    wells_created: int
    error: str | None = Field(description="Why the import failed; null otherwise.")
    error_count: int = Field(description="Problems found in the file, all of them.")
    errors: list[ImportProblemOut] = Field(description="The first 100 problems, in line order.")
    pinned: bool = Field(description="Kept for ever: retention never removes it.")
    created_by: ActorOut | None = Field(
        description="Who uploaded it (and with which API token); null if unknown."
    )
    cancelled_by: ActorOut | None = Field(
        None, description="Who cancelled it; absent unless cancelled by someone."
    )
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    updated_at: Timestamp


class HistoryPeriodOut(Schema):
    """One period: the stored record, or a calendar month with `resample=month`."""

    date: Day
    oil: float = Field(description="m3 produced in the period.")
    water: float = Field(description="m3.")
    gas: float | None = Field(description="sm3; null when not measured.")
    hours_on: float | None = Field(None, description="Daily history: hours on stream.")
    days_on: float | None = Field(None, description="Monthly periods: days on stream.")
    oil_rate: float | None = Field(description="m3/day per producing day; null for a shut-in.")
    water_rate: float | None
    liquid_rate: float | None
    gas_rate: float | None = Field(description="sm3/day per producing day.")
    oil_rate_calendar: float = Field(description="m3/day per calendar day of the period.")
    water_rate_calendar: float
    liquid_rate_calendar: float
    water_cut: float | None = Field(description="water / (oil + water), 0-1; null when nothing flowed.")
    cumulative_oil: float = Field(description="m3 from the first record to the end of the period.")
    cumulative_water: float
    cumulative_gas: float


class HistoryOut(Schema):
    id: int
    name: str
    field: str
    frequency: FrequencyName
    resample: Literal["month"] | None
    from_: Day | None = Field(alias="from")
    to: Day | None
    count: int
    results: list[HistoryPeriodOut]
