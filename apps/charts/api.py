"""REST API of the chart job, mounted at /api/functions."""

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from apps.accounts.permissions import operation_action, requires
from apps.charts import selectors, services
from apps.charts.models import Function
from apps.charts.schemas import (
    FunctionCreated,
    FunctionCreateIn,
    FunctionListQuery,
    FunctionOut,
    FunctionPage,
    FunctionsRefreshed,
    FunctionsRefreshIn,
)
from apps.charts.views import chart_png_response
from apps.core.listing import list_envelope
from apps.core.schemas import conditional_image_openapi, error_responses
from apps.jobs.audit import actor_of
from apps.jobs.idempotency import IdempotencyKey, idempotency_key_header, job_created
from apps.jobs.retention import job_pin
from apps.jobs.schemas import actor_out, created_by_parse

router = Router(tags=["functions"])


def _out(function: Function) -> dict:
    return {
        "id": function.pk,
        "expression": function.expression,
        "dt": function.dt,
        "interval": function.interval,
        "status": function.status,
        "error": function.error or None,
        "image_url": selectors.function_image_url(function_id=function.pk, image_hash=function.image_hash),
        "queued_at": function.queued_at,
        "started_at": function.started_at,
        "processed_at": function.processed_at,
        "created_at": function.created_at,
        "updated_at": function.updated_at,
        "pinned": function.pinned,
        "created_by": actor_out(function.created_by, token=function.created_by_token),
        "cancelled_by": actor_out(function.cancelled_by),
        "rerun_by": actor_out(function.rerun_by),
    }


@router.post(
    "",
    response={201: FunctionCreated, **error_responses(429)},
    summary="Create a function and queue its chart",
)
@requires("add", Function)
def function_create_endpoint(
    request: HttpRequest,
    payload: FunctionCreateIn,
    idempotency_key: IdempotencyKey = idempotency_key_header(),
) -> HttpResponse:
    """Send an `Idempotency-Key` header to retry safely: the same key with the same body within
    24 hours answers the first answer (same id) and creates nothing; the same key with
    another body is a 422 naming the header. Keys are per user."""
    return job_created(
        request=request,
        scope="functions.create",
        key=idempotency_key,
        payload=payload,
        create=lambda: services.function_create(
            expression=payload.expression, dt=payload.dt, interval=payload.interval, actor=actor_of(request)
        ),
        detail_url_name="function_detail",
    )


@router.get(
    "",
    response={200: FunctionPage, **error_responses()},
    summary="List functions",
)
@requires("view", Function)
def function_list_endpoint(request: HttpRequest, query: Query[FunctionListQuery]) -> Status:
    """Functions, `page_size` a page, by `page` or by `cursor` (not both).

    The same paging contract as `GET /api/calculations`: `count` is exact, also per `status`
    filter; with `search` it is counted up to 10,000 and `count_is_lower_bound` says when there
    are more. `next_cursor` / `prev_cursor` page on at the same cost at any depth. Invalid
    values are a 422 naming the field and the rule.
    """
    result = selectors.function_list(
        page=query.page,
        page_size=query.page_size,
        cursor=query.cursor,
        ordering=query.ordering,
        status=query.status,
        search=query.search,
        created_by_id=created_by_parse(value=query.created_by, request=request),
    )
    return Status(200, list_envelope(result, item=_out))


@router.post(
    "/refresh",
    response={200: FunctionsRefreshed, **error_responses(404, 429)},
    summary="Draw the charts of several functions again, in parallel",
)
@requires(operation_action("refresh"), Function)
def functions_refresh_endpoint(request: HttpRequest, payload: FunctionsRefreshIn) -> Status:
    """Every listed function not already queued or running is queued; all of them count
    against the requester's quota (CHARTS_QUOTA_IN_FLIGHT): past it the whole request is a
    429 with `Retry-After` and nothing is queued."""
    result = services.functions_refresh(ids=payload.ids, actor=actor_of(request))
    return Status(200, {"queued": result.queued, "skipped": result.skipped})


@router.get(
    "/{id}",
    response={200: FunctionOut, **error_responses(404)},
    summary="One function",
    url_name="function_detail",
)
@requires("view", Function)
def function_detail_endpoint(request: HttpRequest, id: int) -> Status:
    return Status(200, _out(selectors.function_get(function_id=id)))


@router.post(
    "/{id}/cancel",
    response={200: FunctionOut, **error_responses(404, 409)},
    summary="Cancel a queued or running chart job",
)
@requires(operation_action("cancel"), Function)
def function_cancel_endpoint(request: HttpRequest, id: int) -> Status:
    """A queued chart becomes `cancelled` at once; a running one stops before its next outside
    call and keeps its previous image. Answers the function; one that is already finished,
    failed or cancelled answers 409 naming its status."""
    return Status(200, _out(services.function_cancel(function_id=id, actor=actor_of(request))))


def _pin_endpoint(pinned: bool) -> None:
    """Register `POST /{id}/pin` or `/{id}/unpin` (operation `function_pin` / `_unpin`)."""
    action = "pin" if pinned else "unpin"

    def endpoint(request: HttpRequest, id: int) -> Status:
        job_pin(kind=services.FUNCTION_JOB, job_id=id, actor=actor_of(request), pinned=pinned)
        return Status(200, _out(selectors.function_get(function_id=id)))

    endpoint.__name__ = endpoint.__qualname__ = f"function_{action}_endpoint"
    endpoint.__doc__ = (
        "Mark the function kept for ever (retention never removes it)."
        if pinned
        else ("Let retention treat the function like any other again.")
    )
    router.post(
        f"/{{id}}/{action}",
        response={200: FunctionOut, **error_responses(404)},
        summary="Pin a function (kept for ever)" if pinned else "Unpin a function",
    )(requires("change", Function)(endpoint))


for _pinned in (True, False):
    _pin_endpoint(_pinned)


@router.get(
    "/{id}/chart.png",
    response=error_responses(404),
    summary="The chart PNG (ETag; send If-None-Match for a 304)",
    openapi_extra=conditional_image_openapi(content_type="image/png", description="The PNG."),
)
@requires("view", Function)
def function_chart_endpoint(request: HttpRequest, id: int) -> HttpResponse:
    return chart_png_response(request, function_id=id, immutable=False)
