"""The client of the Highcharts export server (PNG and SVG images of chart options)."""

import httpx
from django.conf import settings

from apps.core.metrics import outside_call
from apps.integrations.transport import ServiceError, call_outcome, client, json_or_none, network_error, quote

EXPORT_SERVER = "Export server"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


def export_server_png(*, options: dict, width: int, height: int) -> bytes:
    """Render Highcharts `options` to a PNG of width x height pixels."""
    return export_server_image(options=options, width=width, height=height, image_type="png")


# What each image type starts with, and how the error text names it.
_IMAGE_TYPES = {"png": ((PNG_SIGNATURE,), "a PNG"), "svg": ((b"<svg", b"<?xml"), "an SVG")}


@outside_call("export_server", call_outcome)
def export_server_image(
    *, options: dict, width: int, height: int, image_type: str = "png", timeout: float | None = None
) -> bytes:
    """Render Highcharts `options` to an image (`png` or `svg`) of width x height pixels,
    waiting `timeout` seconds at most (default EXPORT_SERVER_TIMEOUT)."""
    signatures, described = _IMAGE_TYPES[image_type]
    timeout = settings.EXPORT_SERVER_TIMEOUT if timeout is None else timeout
    payload = {"infile": options, "type": image_type, "width": width, "height": height}
    try:
        response = client(settings.EXPORT_SERVER_URL, timeout).post("/", json=payload)
    except httpx.HTTPError as exc:
        raise network_error(EXPORT_SERVER, exc, timeout) from exc

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
    body = json_or_none(response) or {}
    message = body.get("message")
    detail = quote(message) if isinstance(message, str) and message else quote(response.text)
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
