"""Schemas every router shares: the one error shape, the one timestamp, and the paging contract
of the lists (docs/reference/api-conventions.md)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from django.db.models import Model
from ninja import Field, Schema
from pydantic import PlainSerializer, WithJsonSchema

from apps.core.formatting import iso
from apps.core.listing import PAGE_MAX, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, SEARCH_MAX_LENGTH, status_names


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


# Every timestamp leaves the API the same way, through `iso()`: ISO 8601, UTC, microseconds, "Z".
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
UtcDateTime = Annotated[
    datetime,
    PlainSerializer(iso, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": TIMESTAMP_PATTERN,
            "example": "2024-01-01T12:00:00.000000Z",
        }
    ),
]


def names_filter_type(allowed: Sequence[str]) -> Any:  # a list type, built at run time
    """A query parameter that takes several names out of `allowed`: documented as an array of
    enum values (`?status=a&status=b`, what generated clients send); `?status=a,b` is read
    the same. The selector validates (`apps.core.listing.names_parse`: an unknown name is a
    422 listing the allowed ones), so the endpoint takes plain strings."""
    # The list outermost (not inside Annotated): that is how ninja knows to read every value.
    return list[Annotated[str, WithJsonSchema({"type": "string", "enum": list(allowed)})]] | None


def status_filter_type(model: type[Model]) -> Any:  # an Annotated type, built at run time
    """`?status=` of a list: names out of the model's status choices (so a status added to the
    model is accepted and documented at once)."""
    return names_filter_type(status_names(model))


def status_filter_description(model: type[Model]) -> str:
    allowed = ", ".join(f"`{choice}`" for choice in status_names(model))
    return (
        f"Only these statuses: repeat the parameter (`status=queued&status=running`) or separate them "
        f"with commas (`status=queued,running`); any of {allowed}."
    )


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


class ListQuery(Schema):
    """The paging parameters every list takes, with the same bounds everywhere; a resource's
    query schema adds its `ordering`, filters and `search` (`Query[<Resource>ListQuery]`)."""

    page: int | None = Field(
        None,
        ge=1,
        le=PAGE_MAX,
        description="1-based (default 1); a page past the end is empty. Not with `cursor`.",
    )
    page_size: int = Field(
        PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX, description=f"Rows a page, 1 to {PAGE_SIZE_MAX}."
    )
    cursor: Cursor = Field(None, max_length=CURSOR_MAX_LENGTH, description=CURSOR_DESCRIPTION)


class PageOut(Schema):
    """The list envelope (`apps.core.listing.list_envelope`); a resource's page schema adds
    `results: list[<Item>]`."""

    count: int = Field(
        description="Matching rows: exact without `search`; with one, counted up to 10,000 "
        '(then `count_is_lower_bound` is true, read it as "10,000+").'
    )
    count_is_lower_bound: bool = Field(description="True when `count` is the 10,000 cap: there are more.")
    pages: int = Field(description="Pages of `page_size` rows.")
    page: int | None = Field(description="This page's number; null when the page was asked for by `cursor`.")
    page_size: int = Field(description="Rows a page, as asked for (or the default).")
    next_cursor: str | None = Field(description="Send as `cursor` for the next page; null on the last.")
    prev_cursor: str | None = Field(description="Send as `cursor` for the previous page; null on the first.")


def conditional_image_openapi(*, content_type: str, description: str) -> dict:
    """The OpenAPI entries of an image answered with an ETag: its 200 (the bytes and the
    `ETag`), the 304 and the `If-None-Match` header that asks for one."""
    return {
        "parameters": [
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "ETags of copies the client holds (as the `ETag` answers gave them, "
                "comma-separated): when one is current the answer is a 304 without a body.",
                "schema": {"type": "string"},
            }
        ],
        "responses": {
            "200": {
                "description": description,
                "headers": {
                    "ETag": {
                        "description": "The image's version (a hash of its bytes), for `If-None-Match`.",
                        "schema": {"type": "string"},
                    }
                },
                "content": {content_type: {"schema": {"type": "string", "format": "binary"}}},
            },
            "304": {"description": "Not modified: the copy named in `If-None-Match` is current."},
        },
    }
