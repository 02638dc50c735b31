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
    # Sent with the error's answer (a quota's Retry-After).
    headers: dict[str, str] = {}

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
    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message, rule="unavailable")


def error_response(error: DomainError) -> JsonResponse:
    """The one error shape for views outside ninja (chart images, the data service)."""
    response = JsonResponse(error.as_body(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response
