"""Middleware of every page: the Content-Security-Policy header, and the one JSON error shape
for whatever Django answers on its own under /api/."""

from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.core.http import RequestError, error_response

API_PREFIX = "/api/"
# The rule of each status Django answers on its own; others are named after their phrase.
RULES = {404: "not_found", 405: "method_not_allowed", 500: "server_error"}
# What describes the replaced body; every other header of Django's answer is kept.
_BODY_HEADERS = {"content-type", "content-length", "content-disposition"}


class ContentSecurityPolicyMiddleware:
    """Sends CONTENT_SECURITY_POLICY on every response that has no policy of its own (an
    exported SVG sets a stricter one). The admin and the API's Swagger page load scripts from
    this site only, with no inline script, so an injected `<script>` or event handler never
    runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        return response


def _is_json(response: HttpResponse) -> bool:
    content_type = response.get("Content-Type", "").split(";")[0].strip()
    return content_type == "application/json" or content_type.endswith("+json")


class ApiErrorShapeMiddleware:
    """Answers under /api/ that Django or ninja write themselves (an unknown route, a method
    the route does not take, a bad Host, a server error) leave in the one JSON error shape,
    like every answer the API's own code gives: a client parses one shape whatever went
    wrong. The other headers (`Allow`, `Vary`, the security headers) are kept."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not request.path.startswith(API_PREFIX) or _is_json(response):
            return response
        status = HTTPStatus(response.status_code)
        rule = RULES.get(status, status.phrase.lower().replace(" ", "_").replace("-", "_"))
        if status == HTTPStatus.NOT_FOUND:
            message = f"No API route {request.path}; the routes are listed in /api/openapi.json."
        elif status == HTTPStatus.METHOD_NOT_ALLOWED:
            message = f"{request.method} is not allowed here; allowed: {response.get('Allow', 'none')}."
        else:
            message = f"{status.phrase}."
        shaped = error_response(RequestError(message, rule=rule, status=status))
        for header, value in response.headers.items():
            if header.lower() not in _BODY_HEADERS:
                shaped[header] = value
        return shaped
