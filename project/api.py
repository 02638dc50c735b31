"""The one NinjaAPI: routers of every app, authentication and the single error shape."""

from django.http import Http404, HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from apps.accounts.auth import api_auth
from apps.calculations.api import router as calculations_router
from apps.charts.api import router as functions_router
from apps.core.errors import DomainError

api = NinjaAPI(
    title="Calcboard API",
    version="1.0.0",
    description=(
        "Queued well-production calculations and function charts. Authenticate with an admin "
        "session or `Authorization: Bearer <token>` (create one in the admin or with "
        "`manage.py create_api_token USERNAME`). Errors share one shape: "
        '`{"detail": "...", "errors": [{"field": ..., "rule": ..., "message": ...}]}`.'
    ),
    auth=api_auth,
    docs_url="/docs",
)
api.add_router("/calculations", calculations_router)
api.add_router("/functions", functions_router)

# Where the offending value sits; the prefix ninja adds (body/query/path + argument name)
# carries nothing a client can act on.
_LOCATIONS = {"body", "query", "path", "header", "cookie", "form", "file"}


def _field_name(loc: list) -> str | None:
    parts = [str(part) for part in loc]
    if parts and parts[0] in _LOCATIONS:
        location, parts = parts[0], parts[1:]
        if location == "body" and len(parts) > 1:
            parts = parts[1:]  # drop the payload argument's name
    return ".".join(parts) or None


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError):
    errors = [
        {
            "field": _field_name(error.get("loc", [])),
            "rule": error.get("type", "invalid"),
            "message": error.get("msg", "Invalid value."),
        }
        for error in exc.errors
    ]
    fields = ", ".join(sorted({e["field"] for e in errors if e["field"]})) or "request"
    return api.create_response(request, {"detail": f"Invalid input: {fields}.", "errors": errors}, status=422)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError):
    return api.create_response(request, exc.as_body(), status=exc.status)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError):
    body = {
        "detail": "Authentication required: log in to the admin or send 'Authorization: Bearer <token>'.",
        "errors": [{"field": None, "rule": "authentication", "message": "Not authenticated."}],
    }
    return api.create_response(request, body, status=401)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404):
    body = {"detail": "Not found.", "errors": [{"field": None, "rule": "not_found", "message": "Not found."}]}
    return api.create_response(request, body, status=404)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError):
    body = {"detail": str(exc), "errors": [{"field": None, "rule": "http", "message": str(exc)}]}
    return api.create_response(request, body, status=exc.status_code)
