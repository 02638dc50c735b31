"""The one NinjaAPI: routers of every app, authentication and the single error shape."""

import functools
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.params.models import QueryModel
from ninja.parser import Parser

from apps.accounts.auth import api_auth
from apps.calculations.api import router as calculations_router
from apps.calculations.api import wells_router as calculations_wells_router
from apps.charts.api import router as functions_router
from apps.core.errors import DomainError, FieldError, NotFoundError
from apps.core.http import WWW_AUTHENTICATE, RequestError, error_headers, error_status
from apps.core.responses import API_NAMESPACE
from apps.wells.api import router as wells_router


def _is_json(content_type: str) -> bool:
    # application/json, or a JSON-based type such as application/merge-patch+json
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


class JsonBodyParser(Parser):
    """Request bodies are JSON and must say so.

    ninja alone `json.loads` any body whatever its Content-Type and answers a bare 400
    "Cannot parse request body": a form post, or `curl -d` without a Content-Type, got an
    error naming nothing. The DomainErrors raised here reach `on_http_error` as the cause of
    ninja's HttpError and are answered in the one shape, naming the body and the rule (the
    data service's rule names: `content_type` 415, `json` 400; `too_large` 413 is below).
    """

    def parse_body(self, request: HttpRequest) -> Any:
        content_type = request.content_type or ""
        if not _is_json(content_type):
            raise _body_error(
                f"Send the body as JSON with 'Content-Type: application/json', not "
                f"{content_type or 'no content type'}.",
                rule="content_type",
                status=415,
            )
        try:
            return json.loads(request.body)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise _body_error(f"The body is not valid JSON: {exc}.", rule="json", status=400) from exc
        except RecursionError as exc:  # "[[[[...": a few bytes per level, well under the size limit
            message = "The body is not valid JSON: nested too deeply."
            raise _body_error(message, rule="json", status=400) from exc


def _body_error(message: str, *, rule: str, status: int) -> RequestError:
    return RequestError(message, field="body", rule=rule, status=status)


# What any operation that takes a body may answer before its own code runs, whichever
# router it is in: documented once here rather than on every operation.
BODY_ERRORS = {
    "400": "The body is not valid JSON (rule `json`).",
    "413": "The body is larger than the server's limit, 64 KiB (rule `too_large`).",
    "415": "The body is not sent as application/json (rule `content_type`).",
}


class CalcboardAPI(NinjaAPI):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._openapi_schemas: dict[tuple, OpenAPISchema] = {}

    def get_openapi_operation_id(self, operation: Operation) -> str:
        # Operation ids become the method names of every generated client: one pattern,
        # `<entity>_<action>`, from the endpoint function `<entity>_<action>_endpoint`.
        return operation.view_func.__name__.removesuffix("_endpoint")

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict | None = None
    ) -> OpenAPISchema:
        """Built once per process and path prefix: the routes cannot change while it runs, and
        building it costs more than the request that asks for it (`/api/openapi.json`, `/api/docs`)."""
        key = (path_prefix, tuple(sorted((path_params or {}).items())))
        if key not in self._openapi_schemas:
            self._openapi_schemas[key] = self._build_openapi_schema(
                path_prefix=path_prefix, path_params=path_params
            )
        return self._openapi_schemas[key]

    def _build_openapi_schema(self, *, path_prefix: str | None, path_params: dict | None) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        # The routers' `ErrorOut` (apps/core/schemas.py) is the one error schema.
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        for path_item in schema["paths"].values():
            for operation in path_item.values():
                responses = operation["responses"]
                if "requestBody" in operation:
                    for status, description in BODY_ERRORS.items():
                        # an operation may declare one of them itself (ninja keys it as an int)
                        if int(status) not in responses:
                            responses.setdefault(status, {"description": description, "content": content})
                # The headers every operation's answers carry the same way (project.api, apps.core).
                for code, headers in RESPONSE_HEADERS.items():
                    # ninja keys the declared statuses as ints, openapi_extra as strings
                    for key in (code, str(code)):
                        if key in responses:
                            responses[key].setdefault("headers", {}).update(headers)
        return schema


# Documented on every operation that answers these statuses.
RESPONSE_HEADERS = {
    201: {
        "Location": {
            "description": "The URL of what was created (its detail).",
            "schema": {"type": "string", "format": "uri-reference"},
        }
    },
    401: {
        "WWW-Authenticate": {
            "description": f"How to authenticate: `{WWW_AUTHENTICATE}`.",
            "schema": {"type": "string"},
        }
    },
}


def _query_names(operation: Any) -> frozenset[str]:
    """The query parameters an operation declares (the names its OpenAPI entry lists)."""
    return frozenset(
        name
        for model in operation.models
        if issubclass(model, QueryModel)
        for name in getattr(model, "__ninja_flatten_map__", {})
    )


def refuse_unknown_query(run: Callable) -> Callable:
    """Every operation refuses a query parameter it does not declare: a 422 naming each one
    (rule `unknown_parameter`), after authentication, so a typo (`?stauts=failed`, a removed
    `?limit=`) is an error instead of a silently unfiltered answer.

    Applied to every operation by `api.add_decorator(..., mode="view")`, which wraps the
    bound `Operation.run`; the operation is that method's `__self__`."""
    operation = run.__self__  # type: ignore[attr-defined]
    allowed = _query_names(operation)

    @functools.wraps(run)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        unknown = sorted(set(request.GET) - allowed)
        if not unknown:
            return run(request, *args, **kwargs)
        refused = operation._run_checks(request)  # credentials first: a stranger learns nothing
        if refused is not None:
            return refused
        accepted = ", ".join(sorted(allowed)) or "none"
        errors = [
            FieldError(
                name,
                "unknown_parameter",
                f"Unknown query parameter {name!r}; this operation takes: {accepted}.",
            )
            for name in unknown
        ]
        message = f"Unknown query parameter(s): {', '.join(unknown)}."
        return on_domain_error(request, DomainError(message, errors=errors))

    return checked


api = CalcboardAPI(
    title="Calcboard API",
    version="1.0.0",
    urls_namespace=API_NAMESPACE,
    description=(
        "Queued well-production calculations and function charts. Authenticate with an admin "
        "session or `Authorization: Bearer <token>` (create one in the admin or with "
        "`manage.py create_api_token USERNAME`). Errors share one shape: "
        '`{"detail": "...", "errors": [{"field": ..., "rule": ..., "message": ...}]}`.'
    ),
    auth=api_auth,
    docs_url="/docs",
    parser=JsonBodyParser(),
)
api.add_router("/calculations", calculations_router)
api.add_router("/functions", functions_router)
api.add_router("/wells", calculations_wells_router)
api.add_router("", wells_router)
api.add_decorator(refuse_unknown_query, mode="view")

# Where the offending value sits; the prefix ninja adds (body/query/path + argument name)
# carries nothing a client can act on.
_LOCATIONS = {"body", "query", "path", "header", "cookie", "form", "file"}


def _field_name(loc: list) -> str | None:
    parts = [str(part) for part in loc]
    if parts and parts[0] in _LOCATIONS:
        location, parts = parts[0], parts[1:]
        if location == "body":
            # Drop the payload argument's name; an error about the payload itself (missing,
            # `null`, a list instead of an object) is about the body.
            return ".".join(parts[1:]) or "body"
    return ".".join(parts) or None


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        FieldError(
            _field_name(error.get("loc", [])),
            error.get("type", "invalid"),
            error.get("msg", "Invalid value."),
        )
        for error in exc.errors
    ]
    fields = ", ".join(sorted({e.field for e in errors if e.field})) or "request"
    return on_domain_error(request, DomainError(f"Invalid input: {fields}.", errors=errors))


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    response = api.create_response(request, exc.as_body(), status=error_status(exc))
    for header, value in error_headers(exc).items():
        response[header] = value
    return response


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    message = "Authentication required: log in to the admin or send 'Authorization: Bearer <token>'."
    errors = [FieldError(None, "authentication", "Not authenticated.")]
    return on_domain_error(request, RequestError(message, errors=errors, status=401))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return on_domain_error(request, NotFoundError())


@api.exception_handler(RequestDataTooBig)
def on_body_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    # Django raises it when the body is first read; unhandled it becomes a 400 HTML page.
    message = f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
    return on_domain_error(request, _body_error(message, rule="too_large", status=413))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, DomainError):  # raised by JsonBodyParser, wrapped by ninja
        return on_domain_error(request, exc.__cause__)
    return on_domain_error(request, RequestError(str(exc), rule="http", status=exc.status_code))
