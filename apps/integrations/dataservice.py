"""The client of the data service (the points of an expression over time).

`points_request_check` runs the service's own parser and limits in-process (same code, same
DATASERVICE_* settings): a request the service would refuse is refused before a job exists,
with the service's messages."""

from dataclasses import dataclass
from decimal import Decimal

import httpx
from django.conf import settings

from apps.core.metrics import outside_call
from apps.dataservice.expression import MAX_LENGTH as EXPRESSION_MAX_LENGTH
from apps.dataservice.schemas import points_request_parse
from apps.integrations.transport import ServiceError, call_outcome, client, json_or_none, network_error, quote

DATA_SERVICE = "Data service"

__all__ = ["EXPRESSION_MAX_LENGTH", "Points", "dataservice_points", "points_request_check"]


def points_request_check(*, expression: str, dt: float, interval: float) -> None:
    """Raise the `DomainError` the data service would answer for this request, if any."""
    # Decimal(repr(x)): the shortest text of the float, as it would travel in JSON.
    points_request_parse(
        data={"expression": expression, "dt": Decimal(repr(dt)), "interval": Decimal(repr(interval))}
    )


@dataclass(frozen=True)
class Points:
    points: list[list[float]]  # [[t_unix_seconds, y], ...], ordered by t


@outside_call("dataservice", call_outcome)
def dataservice_points(*, expression: str, dt: float, interval: float) -> Points:
    """The points [[t_unix_seconds, y], ...] of `expression` over the last `interval` days."""
    timeout = settings.DATASERVICE_TIMEOUT
    try:
        response = client(settings.DATASERVICE_URL, timeout).post(
            "/points", json={"expression": expression, "dt": dt, "interval": interval}
        )
    except httpx.HTTPError as exc:
        raise network_error(DATA_SERVICE, exc, timeout) from exc

    body = json_or_none(response)
    if response.status_code >= 500:
        detail = (body or {}).get("detail") or quote(response.text) or response.reason_phrase
        raise ServiceError(
            service=DATA_SERVICE,
            message=f"failed (HTTP {response.status_code}): {detail}",
            transient=True,
            status=response.status_code,
        )
    if response.status_code >= 400:
        # The data service's own words: "division by zero at t=...", "unexpected ')' at position 4".
        detail = (body or {}).get("detail") or quote(response.text) or response.reason_phrase
        raise ServiceError(
            service=DATA_SERVICE, message=f": {detail}", transient=False, status=response.status_code
        )
    points = (body or {}).get("points")
    if response.status_code != 200 or not isinstance(points, list):
        raise ServiceError(
            service=DATA_SERVICE,
            message=f"gave an unexpected answer (HTTP {response.status_code}, no points)",
            transient=False,
            status=response.status_code,
        )
    return Points(points=points)
