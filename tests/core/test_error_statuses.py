"""Services raise domain errors without a status; the HTTP layer's one mapping picks it."""

import json

import pytest

from apps.core.errors import (
    ConflictError,
    DomainError,
    NotAuthenticatedError,
    NotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
    UpstreamError,
)
from apps.core.http import RequestError, error_response, error_status


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (DomainError("bad", field="lag", rule="range"), 422),
        (NotAuthenticatedError("who?"), 401),
        (PermissionDeniedError("no"), 403),
        (NotFoundError(), 404),
        (ConflictError("ended", rule="job_ended"), 409),
        (UpstreamError("refused", rule="export_server"), 502),
        (ServiceUnavailableError("down"), 503),
        (RequestError("too big", status=413, rule="too_large"), 413),
    ],
)
def test_each_domain_error_answers_with_its_status_in_the_one_shape(error, status):
    response = error_response(error)
    assert error_status(error) == response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["detail"] == error.message


def test_a_subclass_answers_as_its_nearest_mapped_base():
    class RunEnded(ConflictError):
        pass

    assert error_status(RunEnded("over")) == 409


def test_domain_errors_carry_no_http_status():
    assert not hasattr(ConflictError("x"), "status")
    with pytest.raises(TypeError):
        DomainError("x", status=409)  # type: ignore[call-arg]


def test_a_retry_after_goes_out_as_a_header():
    response = error_response(ServiceUnavailableError("busy", retry_after=2))
    assert response.status_code == 503 and response["Retry-After"] == "2"
