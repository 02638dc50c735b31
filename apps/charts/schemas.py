"""Input and output schemas of the functions API. Inputs refuse unknown fields."""

from typing import TYPE_CHECKING, Annotated

from django.conf import settings
from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict

from apps.charts.models import EXPRESSION_MAX_LENGTH, PRESETS, Function
from apps.charts.selectors import Ordering
from apps.core.schemas import (
    ListQuery,
    PageOut,
    SearchFilter,
    UtcDateTime,
    status_filter_description,
    status_filter_type,
)
from apps.jobs.models import MAX_ID
from apps.jobs.schemas import CREATED_BY_DESCRIPTION, ActorOut, CreatedByFilter, JobStatusName


def _integral_float(value: object) -> object:
    # JSON Schema counts 2.0 as an integer, so the API must too; strict mode still refuses
    # "2", true and 2.5.
    return int(value) if isinstance(value, float) and value.is_integer() else value


FunctionId = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_integral_float)]


class FunctionCreateIn(Schema):
    # strict: the JSON types the schema documents, no "1" or true for a number.
    model_config = ConfigDict(extra="forbid", strict=True)

    expression: str = Field(
        ...,
        min_length=1,
        max_length=EXPRESSION_MAX_LENGTH,
        examples=list(PRESETS),
        description="y = f(t), t in unix seconds. Numbers, t, + - * / ^, parentheses, unary minus, "
        "sin cos tan exp ln log sqrt abs, pi.",
    )
    # The data service's limits; the point count (interval / dt + 1 <= DATASERVICE_MAX_POINTS)
    # is checked by the service and answered as a 422 with rule "too_many_points".
    dt: float = Field(
        ...,
        ge=settings.DATASERVICE_MIN_DT_HOURS,
        le=settings.DATASERVICE_MAX_DT_HOURS,
        allow_inf_nan=False,
        description="Step in hours.",
        examples=[1],
    )
    interval: float = Field(
        ...,
        gt=0,
        le=settings.DATASERVICE_MAX_INTERVAL_DAYS,
        allow_inf_nan=False,
        description="Depth in days, back from the processing time.",
        examples=[30],
    )


class FunctionCreated(Schema):
    id: int


class FunctionsRefreshIn(Schema):
    # strict: ids are JSON integers (2.0 included, see FunctionId), not "1", 1.5 or true.
    model_config = ConfigDict(extra="forbid", strict=True)

    ids: list[FunctionId] = Field(..., min_length=1, max_length=1000, description="Functions to draw again.")


class FunctionsRefreshed(Schema):
    queued: int = Field(..., description="Rows queued for a new chart.")
    skipped: int = Field(..., description="Rows already queued or running: not queued twice.")


if TYPE_CHECKING:
    StatusFilter = list[str] | None  # what the parameter holds; its schema is built at import
else:
    StatusFilter = status_filter_type(Function)


class FunctionListQuery(ListQuery):
    ordering: Ordering = Field("-created_at", description="Never-processed rows sort last by processed_at.")
    status: StatusFilter = Field(None, description=status_filter_description(Function))
    search: SearchFilter = Field(
        None, description="Only functions whose expression contains this, in any case."
    )
    created_by: CreatedByFilter = Field(None, description=CREATED_BY_DESCRIPTION)


class FunctionOut(Schema):
    id: int
    expression: str
    dt: float = Field(..., description="Step in hours.")
    interval: float = Field(..., description="Depth in days.")
    status: JobStatusName
    error: str | None = Field(..., description="Text of the last failure; null when there is none.")
    image_url: str | None = Field(
        ..., description="Versioned chart URL (changes with every new image); null until the first chart."
    )
    queued_at: UtcDateTime | None
    started_at: UtcDateTime | None
    processed_at: UtcDateTime | None = Field(
        ..., description="End of the last processing: finished, failed or cancelled."
    )
    created_at: UtcDateTime
    updated_at: UtcDateTime
    pinned: bool = Field(..., description="Kept for ever: retention never removes it.")
    created_by: ActorOut | None = Field(
        ..., description="Who created it (and with which API token); null if unknown."
    )
    cancelled_by: ActorOut | None = Field(None, description="Who last cancelled it; null unless someone did.")
    rerun_by: ActorOut | None = Field(
        None, description="Who last refreshed its chart; null unless someone did."
    )


class FunctionPage(PageOut):
    """A page of functions; `count` and `pages` cover every function the filters keep."""

    results: list[FunctionOut]
