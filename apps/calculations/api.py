"""REST endpoints for calculations, mounted at /api/calculations (auth: session or bearer)."""

from typing import Annotated

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status
from pydantic import WithJsonSchema

from apps.calculations.schemas import (
    CalculationCreatedOut,
    CalculationCreateIn,
    CalculationDetailOut,
    CalculationListOut,
    Ordering,
)
from apps.calculations.selectors import (
    calculation_detail_json,
    calculation_list,
    calculation_rows_csv,
    detail_fields_parse,
)
from apps.calculations.services import calculation_create
from apps.calculations.models import Calculation
from apps.core.schemas import (
    CURSOR_DESCRIPTION,
    CURSOR_MAX_LENGTH,
    Cursor,
    ErrorOut,
    SearchFilter,
    status_filter_description,
    status_filter_type,
)

router = Router(tags=["calculations"])

StatusFilter = status_filter_type(Calculation)

# `fields` as `detail_fields_parse` reads it (comma-separated, blanks ignored, only `name` and
# `duration`), documented as a pattern so clients (and schemathesis) know what is accepted;
# the selector still answers unknown names with its own 422 listing the allowed ones.
DetailFields = Annotated[
    str | None,
    WithJsonSchema({"type": "string", "pattern": r"^[\s,]*(?:(?:name|duration)\s*(?:,[\s,]*|$))*$"}),
]


@router.post(
    "",
    response={201: CalculationCreatedOut, 401: ErrorOut, 422: ErrorOut},
    summary="Queue a calculation",
    operation_id="calculation_create",
)
def calculation_create_endpoint(request: HttpRequest, payload: CalculationCreateIn):
    """Validate the inputs and queue a run; it executes in the background (first in, first out).

    Rules, each a 422 naming the field and the rule: `date_start`/`date_fin` real dates in
    exactly `YYYY-MM-DD`; `date_start <= date_fin`; `lag` an integer from 1 to 3650; at most
    CALCBOARD_MAX_RESULT_ROWS (default 100,000) result rows; `name` at most 200 characters
    (default: a summary of the inputs); no other fields.
    """
    calculation = calculation_create(
        date_start=payload.date_start, date_fin=payload.date_fin, lag=payload.lag, name=payload.name
    )
    return Status(201, {"id": calculation.pk})


@router.get(
    "",
    response={200: CalculationListOut, 401: ErrorOut, 422: ErrorOut},
    summary="List calculations, 10 per page",
    operation_id="calculation_list",
)
def calculation_list_endpoint(
    request: HttpRequest,
    page: int | None = Query(None, ge=1, description="1-based (default 1); a page past the end is empty."),
    cursor: Cursor = Query(None, max_length=CURSOR_MAX_LENGTH, description=CURSOR_DESCRIPTION),
    ordering: Ordering = Query("-launched_at", description="By launch date, ascending or descending."),
    status: StatusFilter = Query(None, description=status_filter_description(Calculation)),
    search: SearchFilter = Query(None, description="Only runs whose name contains this, case-insensitively."),
):
    """Runs sorted by launch date (then id), 10 per page, by `page` or by `cursor` (not both).

    `count` is exact, also per `status` filter; with `search` it is counted up to 10,000 and
    `count_is_lower_bound` says when there are more. `next_cursor` / `prev_cursor` page from
    this page on at the same cost at any depth; the last page by number is as cheap as the first.
    Invalid values are a 422 naming the field and the rule (`allowed_values` for a status,
    `invalid_cursor` for a cursor this API did not issue, `exclusive` for page with cursor).
    """
    return calculation_list(page=page, cursor=cursor, ordering=ordering, status=status, search=search)


@router.get(
    "/{id}",
    response={200: CalculationDetailOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="One calculation and, once finished, its result",
    operation_id="calculation_detail",
)
def calculation_detail_endpoint(
    request: HttpRequest,
    id: int,
    fields: DetailFields = Query(
        None, description="Comma-separated optional fields: `name`, `duration`.", example="name,duration"
    ),
):
    """`result` is null until the run has finished; a failed run carries its `error`."""
    # The document (up to 100,000 rows) is built by PostgreSQL and passed through as text.
    body = calculation_detail_json(calculation_id=id, fields=detail_fields_parse(fields=fields))
    return HttpResponse(body, content_type="application/json")


@router.get(
    "/{id}/result.csv",
    # 200 is documented below as text/csv only (the view returns the HttpResponse itself).
    response={401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Download a finished calculation's rows as CSV",
    operation_id="calculation_result_csv",
    url_name="calculation_result_csv",
    openapi_extra={
        "responses": {
            200: {"description": "The rows as CSV: a header, then date,liquid,oil,water,wct per line.",
                  "content": {"text/csv": {"schema": {"type": "string"}}}}
        }
    },
)
def calculation_result_csv_endpoint(request: HttpRequest, id: int):
    response = HttpResponse(calculation_rows_csv(calculation_id=id), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="calculation-{id}.csv"'
    return response
