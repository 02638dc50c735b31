"""HTTP API of the data service (service 2).

No authentication, on purpose: the service is reachable only inside the compose network
(it publishes no port), and its only caller is the chart job (the worker). It reads nothing but the
clock and writes nothing.

    POST /points   {"expression": "t + 2/t", "dt": 1, "interval": 30}
        200 {"expression", "dt", "interval", "count", "points": [[t, y], ...]}
            t in unix seconds (float), ordered by t, from now - interval to now.
        422 bad input or a math error at run time, 400 not JSON, 413 body too large,
        415 not application/json, 405 other methods, 503 database unavailable.
    GET /health    200 {"status": "ok", "database": "ok"} or 503 when PostgreSQL does not answer.

Every error body has one shape: {"detail": str, "errors": [{"field", "rule", "message"}]}
(expression errors add "position", the 0-based index of the offending character).
"""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from apps.core.errors import DomainError
from apps.core.formatting import json_object_with_raw
from apps.core.http import RequestError, error_response
from apps.dataservice.schemas import body_parse, points_request_parse
from apps.dataservice.selectors import database_ping, points_select

logger = logging.getLogger(__name__)


def _error(*, status: int, message: str, rule: str) -> JsonResponse:
    return error_response(RequestError(message, rule=rule, status=status))


def _not_allowed(request: HttpRequest, allowed: Iterable[str]) -> JsonResponse:
    allowed = list(allowed)
    response = _error(
        status=405, rule="method", message=f"Method {request.method} not allowed; use {', '.join(allowed)}."
    )
    response["Allow"] = ", ".join(allowed)
    return response


@csrf_exempt
def points(request: HttpRequest) -> HttpResponse:
    """The points of one function; see the module docstring for the contract."""
    if request.method != "POST":
        return _not_allowed(request, ["POST"])
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        body = request.body  # refuses a declared Content-Length over the limit
    except RequestDataTooBig:
        body = None
    if body is None or len(body) > limit:  # the second test catches chunked bodies
        return _error(status=413, rule="too_large", message=f"The body is larger than {limit} bytes.")
    if request.content_type != "application/json":
        return _error(
            status=415,
            rule="content_type",
            message=f"Send the body as application/json, not {request.content_type or 'no content type'}.",
        )
    try:
        data = body_parse(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return _error(status=400, rule="json", message=f"The body is not valid JSON: {exc}.")

    try:
        points_request = points_request_parse(data=data)
        result = points_select(request=points_request)
    except DomainError as exc:
        return error_response(exc)

    head = {
        "expression": points_request.expression,
        "dt": points_request.dt_json,
        "interval": points_request.interval_json,
        "count": result.count,
    }
    return HttpResponse(
        json_object_with_raw(head, points=result.points_json), content_type="application/json"
    )


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return _not_allowed(request, ["GET", "HEAD"])
    if database_ping():
        return JsonResponse({"status": "ok", "database": "ok"})
    return JsonResponse({"status": "unavailable", "database": "unavailable"}, status=503)


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _error(
        status=404, rule="not_found", message=f"No such endpoint: {request.path}. Use POST /points."
    )


def server_error(request: HttpRequest) -> JsonResponse:
    return _error(status=500, rule="internal", message="Internal error in the data service; see its log.")
