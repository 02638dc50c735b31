"""Schemas every router shares: the one error shape, and the paging contract of the lists."""

import re
from typing import Annotated, Any

from django.db.models import Model
from ninja import Field, Schema
from pydantic import WithJsonSchema

from apps.core.listing import SEARCH_MAX_LENGTH, status_names


class FieldErrorOut(Schema):
    field: str | None
    rule: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[FieldErrorOut]


def error_responses(*extra: int) -> dict[int, type[ErrorOut]]:
    """The error answers an API operation declares, all in the one error shape: 401, 403 and
    422 for every operation (each needs credentials and a permission, and validates its
    input), plus `extra` (404, 409, 502, ...)."""
    return dict.fromkeys(sorted({401, 403, 422, *extra}), ErrorOut)


# The paging contract both job lists share (apps.core.listing): query parameters and the
# fields every page answer carries.


def status_filter_type(model: type[Model]) -> Any:  # an Annotated type, built at run time
    """`?status=` as `apps.core.listing.statuses_parse` reads it: comma-separated names from
    the model's status choices (so a status added to the model is accepted and documented
    at once), blanks ignored. An unknown name is the selector's 422 listing the allowed ones."""
    allowed = status_names(model)
    names = "|".join(re.escape(choice) for choice in allowed)
    return Annotated[
        str | None,
        WithJsonSchema(
            {
                "type": "string",
                "pattern": rf"^[\s,]*(?:(?:{names})\s*(?:,[\s,]*|$))*$",
                "example": ",".join(allowed[:2]),
            }
        ),
    ]


SearchFilter = Annotated[
    str | None,
    WithJsonSchema({"type": "string", "maxLength": SEARCH_MAX_LENGTH, "pattern": "^[^\\x00]*$"}),
]
CURSOR_MAX_LENGTH = 1000
# The alphabet of `django.core.signing` (URL-safe base64 and ":"), the cursors' envelope.
Cursor = Annotated[
    str | None,
    WithJsonSchema({"type": "string", "maxLength": CURSOR_MAX_LENGTH, "pattern": "^[A-Za-z0-9_.:-]+$"}),
]
CURSOR_DESCRIPTION = (
    "Opaque position from a previous answer's `next_cursor` or `prev_cursor`, for the same "
    "`ordering`. Instead of `page`: costs the same at any depth. A cursor this API did not issue "
    "is a 422 (rule `invalid_cursor`)."
)


def status_filter_description(model: type[Model]) -> str:
    allowed = ", ".join(f"`{choice}`" for choice in status_names(model))
    return f"Only these statuses, comma-separated (e.g. `queued,running`); any of {allowed}."


class PageOut(Schema):
    count: int = Field(
        description="Matching rows: exact without `search`; with one, counted up to 10,000 "
        "(then `count_is_lower_bound` is true, read it as \"10,000+\")."
    )
    count_is_lower_bound: bool = Field(description="True when `count` is the 10,000 cap: there are more.")
    pages: int = Field(description="Pages of `count` rows.")
    page: int | None = Field(description="This page's number; null when the page was asked for by `cursor`.")
    next_cursor: str | None = Field(description="Send as `cursor` for the next page; null on the last.")
    prev_cursor: str | None = Field(description="Send as `cursor` for the previous page; null on the first.")
