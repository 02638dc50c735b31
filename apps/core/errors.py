"""Domain errors: services raise them; `project.api` (ninja) and `error_response` (plain views)
turn them into the one JSON error shape:
`{"detail": "...", "errors": [{"field": ..., "rule": ..., "message": ...}]}`."""

from dataclasses import dataclass

from django.http import JsonResponse


@dataclass(frozen=True)
class FieldError:
    field: str | None
    rule: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class DomainError(Exception):
    """A request the product refuses; carries the HTTP status the API answers with."""

    status = 422

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rule: str = "invalid",
        errors: list[FieldError] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors if errors is not None else [FieldError(field, rule, message)]
        if status is not None:
            self.status = status

    def as_body(self) -> dict:
        return {"detail": self.message, "errors": [error.as_dict() for error in self.errors]}


class NotFoundError(DomainError):
    status = 404

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message, rule="not_found")


class ServiceUnavailableError(DomainError):
    """A request that can succeed later; `retry_after` (seconds) becomes a Retry-After header."""

    status = 503

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message, rule="unavailable")
        self.retry_after = retry_after


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
    if error.status == 401:
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    return headers


def error_response(error: DomainError) -> JsonResponse:
    """The one error shape for views outside ninja (chart images, the data service)."""
    return JsonResponse(error.as_body(), status=error.status, headers=error_headers(error))
