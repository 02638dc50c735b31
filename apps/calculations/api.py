"""REST endpoints for calculations, mounted at /api/calculations (auth: session or bearer)."""

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from apps.accounts.permissions import operation_action, requires
from apps.calculations.chart_options import (
    CHART_HEIGHT_DEFAULT,
    CHART_HEIGHTS,
    CHART_WIDTH_DEFAULT,
    CHART_WIDTHS,
    ChartHeight,
    ChartWidth,
)
from apps.calculations.models import LAG_MAX, LAG_MIN, NAME_MAX_LENGTH, Calculation
from apps.calculations.schemas import (
    CalculationCreatedOut,
    CalculationCreateIn,
    CalculationDetailOut,
    CalculationListOut,
    CalculationListQuery,
    WellsForecastIn,
    WellsForecastOut,
)
from apps.calculations.selectors import (
    DETAIL_FIELDS,
    calculation_detail_json,
    calculation_list,
    calculation_rows_csv,
    detail_fields_parse,
)
from apps.calculations.services import (
    CALCULATION_JOB,
    calculation_cancel,
    calculation_chart_get,
    calculation_create,
    calculation_rerun,
    calculations_forecast_wells,
)
from apps.core.http import client_copy_current, conditional_response
from apps.core.listing import list_envelope
from apps.core.responses import api_url, created_response
from apps.core.schemas import conditional_image_openapi, error_responses, names_filter_type
from apps.jobs.audit import actor_of
from apps.jobs.idempotency import IdempotencyKey, idempotency_key_header, job_created
from apps.jobs.retention import job_pin
from apps.jobs.schemas import created_by_parse

router = Router(tags=["calculations"])
# Runs started from the wells' side of the API (/api/wells/forecast): calculations own them, and
# the wells app does not depend on calculations.
wells_router = Router(tags=["calculations"])


# `fields` as `detail_fields_parse` reads it; the selector answers unknown names with a 422
# listing the allowed ones.
if TYPE_CHECKING:
    DetailFields = list[str] | None  # what the parameter holds; its schema is built at import
else:
    DetailFields = names_filter_type(DETAIL_FIELDS)


CREATE_DESCRIPTION = f"""Validate the inputs and queue a run; it executes in the background (first in, first
out).

Rules, each a 422 naming the field and the rule: `date_start`/`date_fin` real dates in
exactly `YYYY-MM-DD`; `date_start <= date_fin`; `lag` an integer from {LAG_MIN} to {LAG_MAX}; at most
CALCBOARD_MAX_RESULT_ROWS (default 100,000) result rows; `name` at most {NAME_MAX_LENGTH} characters
(default: a summary of the inputs); no other fields.

With `well`, the run forecasts that well's production history (decline-curve analysis) and
`model` sets its options (every key optional). More 422s: `model` without `well`, an unknown
`model.<key>`, `model.fit_to` before `model.fit_from`, an unknown well, a well with too little
history to fit (the message says how many producing points it has and how many are needed).

Send an `Idempotency-Key` header to retry safely: the same key with the same body within
24 hours answers the first answer (same id) and queues nothing; the same key with another
body is a 422 naming the header. Keys are per user.

One user may have CALCULATIONS_QUOTA_IN_FLIGHT (default 20) runs queued or running at once;
past it the answer is a 429 (rule `quota`) with `Retry-After`, and nothing is queued."""


@router.post(
    "",
    response={201: CalculationCreatedOut, **error_responses(429)},
    summary="Queue a calculation",
    description=CREATE_DESCRIPTION,
)
@requires("add", Calculation)
def calculation_create_endpoint(
    request: HttpRequest,
    payload: CalculationCreateIn,
    idempotency_key: IdempotencyKey = idempotency_key_header(),
) -> HttpResponse:
    return job_created(
        request=request,
        scope="calculations.create",
        key=idempotency_key,
        payload=payload,
        create=lambda: calculation_create(
            date_start=payload.date_start,
            date_fin=payload.date_fin,
            lag=payload.lag,
            name=payload.name,
            well=payload.well,
            model=payload.model.model_dump(exclude_none=True) if payload.model is not None else None,
            actor=actor_of(request),
        ),
        detail_url_name="calculation_detail",
    )


@router.post(
    "/{id}/cancel",
    response={200: CalculationDetailOut, **error_responses(404, 409)},
    summary="Cancel a queued or running calculation",
)
@requires(operation_action("cancel"), Calculation)
def calculation_cancel_endpoint(request: HttpRequest, id: int) -> HttpResponse:
    """A queued run becomes `cancelled` at once; a running one stops at its next progress
    step and keeps no rows. Answers the run's current envelope; a run that is already
    finished, failed or cancelled answers 409 naming its status."""
    calculation = calculation_cancel(calculation_id=id, actor=actor_of(request))
    return HttpResponse(
        calculation_detail_json(calculation_id=calculation.pk), content_type="application/json"
    )


@router.post(
    "/{id}/rerun",
    response={201: CalculationCreatedOut, **error_responses(404, 429)},
    summary="Queue a new run with the same inputs",
)
@requires(operation_action("rerun"), Calculation)
def calculation_rerun_endpoint(request: HttpRequest, id: int) -> HttpResponse:
    """A new run with the same dates and lag, its name marked " (re-run)"; answers its id.
    Counts against the quota like a create (429 past it)."""
    rerun = calculation_rerun(calculation_id=id, actor=actor_of(request))
    return created_response(body={"id": rerun.pk}, location=api_url("calculation_detail", id=rerun.pk))


def _pin_endpoint(pinned: bool) -> None:
    """Register `POST /{id}/pin` or `/{id}/unpin` (operation `calculation_pin` / `_unpin`)."""
    action = "pin" if pinned else "unpin"

    def endpoint(request: HttpRequest, id: int) -> HttpResponse:
        job_pin(kind=CALCULATION_JOB, job_id=id, actor=actor_of(request), pinned=pinned)
        return HttpResponse(calculation_detail_json(calculation_id=id), content_type="application/json")

    endpoint.__name__ = endpoint.__qualname__ = f"calculation_{action}_endpoint"
    endpoint.__doc__ = (
        "Keep the run for ever: retention never removes a pinned run (CALCULATIONS_RETENTION_DAYS)."
        if pinned
        else "Let retention remove the run again once it is older than the retention period."
    )
    router.post(
        f"/{{id}}/{action}",
        response={200: CalculationDetailOut, **error_responses(404)},
        summary="Pin a calculation (kept for ever)" if pinned else "Unpin a calculation",
    )(requires("change", Calculation)(endpoint))


for _pinned in (True, False):
    _pin_endpoint(_pinned)


@router.get(
    "",
    response={200: CalculationListOut, **error_responses()},
    summary="List calculations",
)
@requires("view", Calculation)
def calculation_list_endpoint(request: HttpRequest, query: Query[CalculationListQuery]) -> dict[str, Any]:
    """Runs sorted by launch date (then id), `page_size` a page, by `page` or by `cursor` (not both).

    `count` is exact, also per `status` filter; with `search` it is counted up to 10,000 and
    `count_is_lower_bound` says when there are more. `next_cursor` / `prev_cursor` page from
    this page on at the same cost at any depth; the last page by number is as cheap as the first.
    Invalid values are a 422 naming the field and the rule (`allowed_values` for a status,
    `invalid_cursor` for a cursor this API did not issue, `exclusive` for page with cursor).
    """
    page = calculation_list(
        page=query.page,
        page_size=query.page_size,
        cursor=query.cursor,
        ordering=query.ordering,
        status=query.status,
        search=query.search,
        created_by_id=created_by_parse(value=query.created_by, request=request),
    )
    return list_envelope(page)


@router.get(
    "/{id}",
    response={200: CalculationDetailOut, **error_responses(404)},
    summary="One calculation and, once finished, its result",
    url_name="calculation_detail",
)
@requires("view", Calculation)
def calculation_detail_endpoint(
    request: HttpRequest,
    id: int,
    fields: DetailFields = Query(
        None,
        description="Shape the document: `name`, `duration`, `summary` add those fields, `forecast` a well "
        "run's decline-curve forecast (null for other runs); `-result` leaves out `result` (a run's rows can be "
        "100,000). Repeat the parameter or separate with commas.",
    ),
) -> HttpResponse:
    """`result` is null until the run has finished; a failed run carries its `error` (null otherwise)."""
    # The document (up to 100,000 rows) is built by PostgreSQL and passed through as text.
    body = calculation_detail_json(calculation_id=id, fields=detail_fields_parse(fields=fields))
    return HttpResponse(body, content_type="application/json")


@router.get(
    "/{id}/result.csv",
    # 200 is documented below as text/csv only (the view returns the HttpResponse itself).
    response=error_responses(404, 409),
    summary="Download a finished calculation's rows as CSV",
    url_name="calculation_result_csv",
    openapi_extra={
        "responses": {
            200: {
                "description": "The rows as CSV: a header, then date,liquid,oil,water,wct per line.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
@requires("view", Calculation)
def calculation_result_csv_endpoint(request: HttpRequest, id: int) -> HttpResponse:
    response = HttpResponse(calculation_rows_csv(calculation_id=id), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="calculation-{id}.csv"'
    return response


CHART_CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
# An exported SVG is a document of this site: it may style itself but never run a script.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
ChartWidthQuery = Query(
    CHART_WIDTH_DEFAULT, description=f"Image width in pixels: one of {', '.join(map(str, CHART_WIDTHS))}."
)
ChartHeightQuery = Query(
    CHART_HEIGHT_DEFAULT, description=f"Image height in pixels: one of {', '.join(map(str, CHART_HEIGHTS))}."
)


def _chart_openapi(image_type: str) -> dict:
    return conditional_image_openapi(
        content_type=CHART_CONTENT_TYPES[image_type], description=f"The {image_type.upper()} image."
    )


def _chart_response(
    request: HttpRequest, *, calculation_id: int, image_type: str, width: int, height: int
) -> HttpResponse:
    chart = calculation_chart_get(
        calculation_id=calculation_id,
        image_type=image_type,
        width=width,
        height=height,
        client_has=lambda image_hash: client_copy_current(request, etag=image_hash),
    )

    def build() -> HttpResponse:
        response = HttpResponse(chart.content, content_type=CHART_CONTENT_TYPES[image_type])
        response["Content-Disposition"] = f'inline; filename="calculation-{calculation_id}.{image_type}"'
        if image_type == "svg":
            response["Content-Security-Policy"] = SVG_CSP
        return response

    # A finished run's image never changes, but a rerun draws a new one: revalidate (cheap 304).
    return conditional_response(request, etag=chart.image_hash, build=build)


CHART_SUMMARY = "Rates and water cut of a finished run as one {} image (409 until finished)"
CHART_DESCRIPTION = (
    "Liquid, oil and water rates (m3/day, left axis) and water cut (%, right axis) against "
    "date, titled with the run's name, drawn by the export server on the first request for "
    "a size and served from the database afterwards. Send `If-None-Match` for a 304. "
    "Concurrent requests for one image share one drawing; a 503 with `Retry-After` means "
    "the export server is busy or down, or every drawing slot is taken: retry then."
)


def _chart_endpoint(image_type: str) -> None:
    """Register `GET /{id}/chart.<image_type>` (operation `calculation_chart_<image_type>`)."""

    def endpoint(
        request: HttpRequest,
        id: int,
        width: ChartWidth = ChartWidthQuery,
        height: ChartHeight = ChartHeightQuery,
    ) -> HttpResponse:
        return _chart_response(request, calculation_id=id, image_type=image_type, width=width, height=height)

    # Named before it is decorated: the operation id is read from the name.
    endpoint.__name__ = endpoint.__qualname__ = f"calculation_chart_{image_type}_endpoint"
    router.get(
        f"/{{id}}/chart.{image_type}",
        response=error_responses(404, 409, 502, 503),
        summary=CHART_SUMMARY.format(image_type.upper()),
        description=CHART_DESCRIPTION,
        url_name=f"calculation_chart_{image_type}",
        openapi_extra=_chart_openapi(image_type),
    )(requires("view", Calculation)(endpoint))


for _image_type in CHART_CONTENT_TYPES:
    _chart_endpoint(_image_type)


@wells_router.post(
    "/forecast",
    response={200: WellsForecastOut, **error_responses()},
    summary="Forecast many wells: one calculation per well",
)
@requires("add", Calculation)
def wells_forecast_endpoint(request: HttpRequest, payload: WellsForecastIn) -> dict[str, Any]:
    """Queue one well run per well with the same dates, lag and model (as `POST /api/calculations`
    with `well`); answers their ids in the order of `ids` (each at `/api/calculations/{id}`).
    All or nothing: a problem with any well is a 422 naming it (`ids.<index>`) and nothing is
    queued. Each run follows the live protocol like any calculation."""
    created = calculations_forecast_wells(
        ids=payload.ids,
        date_start=payload.date_start,
        date_fin=payload.date_fin,
        lag=payload.lag,
        model=payload.model.model_dump(exclude_none=True) if payload.model is not None else None,
        actor=actor_of(request),
    )
    # 200 like the charts' refresh: several runs queued, no one new resource to point to.
    return {"ids": [calculation.pk for calculation in created]}
