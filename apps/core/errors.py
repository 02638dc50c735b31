"""Domain errors: services raise them; `project.api` (ninja) and `apps.core.http.error_response`
(plain views) turn them into the one JSON error shape, with the status `apps.core.http` maps:
`{"detail": "...", "errors": [{"field": ..., "rule": ..., "message": ...}]}`."""

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str | None
    rule: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class DomainError(Exception):
    """A request the product refuses. This class itself is invalid input; its subclasses say
    what else went wrong. Services raise them and name no HTTP status: the HTTP layer
    (`apps.core.http.error_status`) picks it."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rule: str = "invalid",
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors if errors is not None else [FieldError(field, rule, message)]

    def as_body(self) -> dict:
        return {"detail": self.message, "errors": [error.as_dict() for error in self.errors]}


class NotFoundError(DomainError):
    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message, rule="not_found")


class ConflictError(DomainError):
    """The object's state forbids the request now (a job that has ended, a run that has not
    finished yet); the same request can succeed once the state changes."""


class NotAuthenticatedError(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(message, rule="authentication")


class PermissionDeniedError(DomainError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field, rule="permission")


class LimitReachedError(DomainError):
    """The requester has used up a limit (a quota of jobs in flight); the same request can
    succeed once it frees up. `retry_after` (seconds) becomes a Retry-After header."""

    def __init__(self, message: str, *, rule: str, retry_after: int | None = None) -> None:
        super().__init__(message, rule=rule)
        self.retry_after = retry_after


class UpstreamError(DomainError):
    """An outside service (the export server, the data service) refused the request; sending
    it again will not help."""


class ServiceUnavailableError(DomainError):
    """An outside service or the database does not answer now; a retry can succeed.
    `retry_after` (seconds) becomes a Retry-After header."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message, rule="unavailable")
        self.retry_after = retry_after
