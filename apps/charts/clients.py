"""One client per outside service of the chart job: the data service (service 2, the
points) and the Highcharts export server (service 3, the PNG).

Both raise `ServiceError`, whose text names the service and says what happened, and whose
`transient` flag tells the task whether a retry can help: the service down, a timeout or a
5xx is transient; a 4xx (the service refused this input) is permanent.
"""

import os
from dataclasses import dataclass

import httpx
from django.conf import settings

DATA_SERVICE = "Data service"
EXPORT_SERVER = "Export server"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Bodies of failed responses are quoted in the error text; keep that readable.
_MAX_QUOTED = 300


class ServiceError(Exception):
    """An outside service failed. `str(error)` is the text shown to the user."""

    def __init__(self, *, service: str, message: str, transient: bool, status: int | None = None) -> None:
        # `message` reads as the rest of a sentence whose subject is the service:
        # "Export server unreachable (connection refused)", "Data service: division by zero ...".
        separator = "" if message.startswith(":") else " "
        super().__init__(f"{service}{separator}{message}")
        self.message = message
        self.transient = transient
        self.status = status


def still_image_options() -> dict:
    """Highcharts options every image the export server draws shares: a still image, so no
    animation, markers, hover states or mouse-tracking paths to build (cheaper renders)."""
    return {
        "credits": {"enabled": False},
        "tooltip": {"enabled": False},
        "accessibility": {"enabled": False},
        "plotOptions": {
            "series": {
                "animation": False,
                "marker": {"enabled": False},
                "lineWidth": 1.5,
                "enableMouseTracking": False,
                "states": {"hover": {"enabled": False}},
            }
        },
    }


_CLIENTS: dict[tuple[int, str, float], httpx.Client] = {}


def _client(base_url: str, timeout: float) -> httpx.Client:
    """One keep-alive client per process and service. Building an httpx.Client costs ~30 ms
    of CPU (it loads the CA bundle), as much as a chart's own work in the worker; the pid in
    the key gives each forked worker process its own connections."""
    key = (os.getpid(), base_url, timeout)
    client = _CLIENTS.get(key)
    if client is None:
        client = _CLIENTS[key] = httpx.Client(base_url=base_url, timeout=timeout)
    return client


@dataclass(frozen=True)
class Points:
    points: list[list[float]]  # [[t_unix_seconds, y], ...], ordered by t


def _network_error(service: str, exc: httpx.HTTPError, timeout: float) -> ServiceError:
    """Describe a request that got no HTTP answer: always transient."""
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return ServiceError(service=service, message=f"timed out after {timeout:g} s", transient=True)
    if isinstance(exc, httpx.RemoteProtocolError):
        return ServiceError(
            service=service, message="dropped the connection without answering", transient=True
        )
    text = str(exc).lower()
    if "refused" in text:
        reason = "connection refused"
    elif isinstance(exc, httpx.ConnectTimeout):
        reason = "connect timeout"
    elif "name or service not known" in text or "nodename" in text or "name resolution" in text:
        reason = "unknown host"
    else:
        reason = str(exc)[:_MAX_QUOTED] or type(exc).__name__
    return ServiceError(service=service, message=f"unreachable ({reason})", transient=True)


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 1] + "…"


def _json_or_none(response: httpx.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def dataservice_points(*, expression: str, dt: float, interval: float) -> Points:
    """The points [[t_unix_seconds, y], ...] of `expression` over the last `interval` days."""
    timeout = settings.DATASERVICE_TIMEOUT
    try:
        response = _client(settings.DATASERVICE_URL, timeout).post(
            "/points", json={"expression": expression, "dt": dt, "interval": interval}
        )
    except httpx.HTTPError as exc:
        raise _network_error(DATA_SERVICE, exc, timeout) from exc

    body = _json_or_none(response)
    if response.status_code >= 500:
        detail = (body or {}).get("detail") or _quote(response.text) or response.reason_phrase
        raise ServiceError(
            service=DATA_SERVICE,
            message=f"failed (HTTP {response.status_code}): {detail}",
            transient=True,
            status=response.status_code,
        )
    if response.status_code >= 400:
        # The data service's own words: "division by zero at t=...", "unexpected ')' at position 4".
        detail = (body or {}).get("detail") or _quote(response.text) or response.reason_phrase
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


def export_server_png(*, options: dict, width: int, height: int) -> bytes:
    """Render Highcharts `options` to a PNG of width x height pixels."""
    return export_server_image(options=options, width=width, height=height, image_type="png")


# What each image type starts with, and how the error text names it.
_IMAGE_TYPES = {"png": ((PNG_SIGNATURE,), "a PNG"), "svg": ((b"<svg", b"<?xml"), "an SVG")}


def export_server_image(
    *, options: dict, width: int, height: int, image_type: str = "png", timeout: float | None = None
) -> bytes:
    """Render Highcharts `options` to an image (`png` or `svg`) of width x height pixels,
    waiting `timeout` seconds at most (default EXPORT_SERVER_TIMEOUT)."""
    signatures, described = _IMAGE_TYPES[image_type]
    timeout = settings.EXPORT_SERVER_TIMEOUT if timeout is None else timeout
    payload = {"infile": options, "type": image_type, "width": width, "height": height}
    try:
        response = _client(settings.EXPORT_SERVER_URL, timeout).post("/", json=payload)
    except httpx.HTTPError as exc:
        raise _network_error(EXPORT_SERVER, exc, timeout) from exc

    if response.status_code == 200 and response.content.lstrip().startswith(signatures):
        return response.content
    if response.status_code == 200:
        raise ServiceError(
            service=EXPORT_SERVER,
            message=f"answered with something that is not {described}",
            transient=False,
        )
    raise _export_server_error(response)


# The export server (5.1.0) answers every failure as `{"statusCode", "message", "stack"}`
# (`stack` only in development), with 400 for its own overload and timeouts too: only the
# message tells a busy server from a chart it refuses. These are the messages of its pool.
_EXPORT_BUSY_MESSAGES = (
    "rasterization timeout",  # the browser page did not finish within export.rasterizationTimeout
    "acquiring an available entry",  # no free page within pool.acquireTimeout
    "pool has not been started",  # the server is starting or restarting its browser
    "worker page is invalid",  # a page died mid-export and is being replaced
)
# Later releases add a machine-readable `errorCode`; read it when it is there.
_EXPORT_BUSY_CODES = {"EXPORT_QUEUE_FULL", "EXPORT_RASTERIZATION_TIMEOUT", "POOL_ACQUIRE_TIMEOUT"}


def _export_server_error(response: httpx.Response) -> ServiceError:
    """Read a failed answer of the export server: its own words, and whether a retry can help
    (overload, timeouts, 429 and 5xx can; a chart it refuses cannot)."""
    body = _json_or_none(response) or {}
    message = body.get("message")
    detail = _quote(message) if isinstance(message, str) and message else _quote(response.text)
    detail = detail or response.reason_phrase
    error_code = body.get("errorCode") if isinstance(body.get("errorCode"), str) else None
    busy = error_code in _EXPORT_BUSY_CODES or any(
        marker in detail.lower() for marker in _EXPORT_BUSY_MESSAGES
    )
    status = response.status_code
    if status >= 500 or status == 429 or busy:
        kind = "is busy" if busy or status == 429 else "failed"
        transient = True
    else:
        kind, transient = "refused the chart", False
    code = f" {error_code}" if error_code else ""
    return ServiceError(
        service=EXPORT_SERVER,
        message=f"{kind} (HTTP {status}{code}): {detail}",
        transient=transient,
        status=status,
    )
