"""The live event payload of a function, next to nothing else: what the chart job broadcasts
(apps.jobs.services through FUNCTION_JOB) and what the REST detail's core fields repeat."""

from apps.charts.models import Function
from apps.charts.selectors import function_image_url
from apps.core.formatting import iso


def function_event_payload(function: Function) -> dict:
    """The live event body of a function (broadcast adds `kind` and `id`; documented in
    apps.charts.services and docs/reference/websocket-protocol.md)."""
    return {
        "expression": function.expression,
        "status": function.status,
        "progress": function.progress,
        "processed_at": iso(function.processed_at),
        "error": function.error,
        "image_url": function_image_url(function_id=function.pk, image_hash=function.image_hash),
        "updated_at": iso(function.updated_at),
    }
