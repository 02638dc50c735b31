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
from apps.calculations.services import calculation_cancel, calculation_create, calculation_rerun
from apps.core.schemas import ErrorOut
from apps.jobs.idempotency import idempotency_key_header, idempotent_create

router = Router(tags=["calculations"])

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
def calculation_create_endpoint(
    request: HttpRequest, payload: CalculationCreateIn, idempotency_key: str | None = idempotency_key_header()
):
    """Validate the inputs and queue a run; it executes in the background (first in, first out).

    Rules, each a 422 naming the field and the rule: `date_start`/`date_fin` real dates in
    exactly `YYYY-MM-DD`; `date_start <= date_fin`; `lag` an integer from 1 to 3650; at most
    CALCBOARD_MAX_RESULT_ROWS (default 100,000) result rows; `name` at most 200 characters
    (default: a summary of the inputs); no other fields.

    Send an `Idempotency-Key` header to retry safely: the same key with the same body within
    24 hours answers the first answer (same id) and queues nothing; the same key with another
    body is a 422 naming the header. Keys are per user.
    """

    def create() -> tuple[int, dict]:
        calculation = calculation_create(
            date_start=payload.date_start, date_fin=payload.date_fin, lag=payload.lag, name=payload.name
        )
        return 201, {"id": calculation.pk}

    status, body = idempotent_create(
        user=request.user, scope="calculations.create", key=idempotency_key, body=payload.dict(), create=create
    )
    return Status(status, body)


@router.post(
    "/{id}/cancel",
    response={200: CalculationDetailOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Cancel a queued or running calculation",
    operation_id="calculation_cancel",
)
def calculation_cancel_endpoint(request: HttpRequest, id: int):
    """A queued run becomes `cancelled` at once; a running one stops at its next progress
    step and keeps no rows. Answers the run's current envelope; a run that is already
    finished, failed or cancelled answers 409 naming its status."""
    calculation = calculation_cancel(calculation_id=id)
    return HttpResponse(calculation_detail_json(calculation_id=calculation.pk), content_type="application/json")


@router.post(
    "/{id}/rerun",
    response={201: CalculationCreatedOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Queue a new run with the same inputs",
    operation_id="calculation_rerun",
)
def calculation_rerun_endpoint(request: HttpRequest, id: int):
    """A new run with the same dates and lag, its name marked " (re-run)"; answers its id."""
    return Status(201, {"id": calculation_rerun(calculation_id=id).pk})


@router.get(
    "",
    response={200: CalculationListOut, 401: ErrorOut, 422: ErrorOut},
    summary="List calculations, 10 per page",
    operation_id="calculation_list",
)
def calculation_list_endpoint(
    request: HttpRequest,
    page: int = Query(1, ge=1, description="1-based; a page past the end is empty."),
    ordering: Ordering = Query("-launched_at", description="By launch date, ascending or descending."),
):
    return calculation_list(page=page, ordering=ordering)


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
