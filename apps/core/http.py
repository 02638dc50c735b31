"""The HTTP layer's shared rules, for the API (`project.api`) and the plain views: which status
each domain error answers with, the one error response, conditional GETs by Django's rules."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import quote_etag

from apps.core.errors import (
    ConflictError,
    DomainError,
    FieldError,
    LimitReachedError,
    NotAuthenticatedError,
    NotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
    UpstreamError,
)

# The one mapping of domain errors to statuses; a subclass answers as its nearest listed base.
ERROR_STATUSES: dict[type[DomainError], int] = {
    NotAuthenticatedError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    LimitReachedError: 429,
    UpstreamError: 502,
    ServiceUnavailableError: 503,
    DomainError: 422,
}


class RequestError(DomainError):
    """A refusal of the HTTP layer itself, about the request rather than the product (a body
    that is not JSON or too large, a method not allowed): it carries its status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        field: str | None = None,
        rule: str = "invalid",
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(message, field=field, rule=rule, errors=errors)
        self.status = status


def error_status(error: DomainError) -> int:
    if isinstance(error, RequestError):
        return error.status
    return next(ERROR_STATUSES[base] for base in type(error).__mro__ if base in ERROR_STATUSES)


# What a 401 names as the way in (RFC 9110 11.6.1): a bearer token (the admin session is the
# other, for browsers).
WWW_AUTHENTICATE = 'Bearer realm="calcboard"'


def error_headers(error: DomainError) -> dict[str, str]:
    """The headers an error's answer carries besides its body: `Retry-After` when it can
    succeed later, `WWW-Authenticate` on a 401."""
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if error_status(error) == 401:
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    return headers


def error_response(error: DomainError) -> JsonResponse:
    """The one error shape for views outside ninja (chart images, the data service)."""
    return JsonResponse(error.as_body(), status=error_status(error), headers=error_headers(error))


REVALIDATE = "private, no-cache"


def client_copy_current(request: HttpRequest, *, etag: str) -> bool:
    """Whether the client already holds the representation with this ETag (`If-None-Match`,
    weak comparison, `*`), as Django's `get_conditional_response` decides."""
    response = get_conditional_response(request, etag=quote_etag(etag))
    return response is not None and response.status_code == 304


def conditional_response(
    request: HttpRequest,
    *,
    etag: str,
    build: Callable[[], HttpResponse],
    cache_control: str = REVALIDATE,
) -> HttpResponse:
    """A 304 when the client's copy is current, else `build()`; both carry the ETag (`build`
    may set a newer one), the cache policy and `Vary` on the credentials (a private image).
    An error `build()` returns goes out as it is."""
    response: HttpResponse = HttpResponseNotModified() if client_copy_current(request, etag=etag) else build()
    if response.status_code not in (200, 304):
        return response
    if not response.has_header("ETag"):
        response["ETag"] = quote_etag(etag)
    response["Cache-Control"] = cache_control
    patch_vary_headers(response, ["Authorization", "Cookie"])
    return response
