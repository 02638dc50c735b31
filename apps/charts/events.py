"""The live event payload of a function, next to nothing else: what the chart job broadcasts
(apps.jobs.services through FUNCTION_JOB) and what the REST detail's core fields repeat."""

from typing import Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from apps.charts.models import Function
from apps.charts.selectors import function_image_url
from apps.core.formatting import iso
from apps.core.schemas import UtcDateTime
from apps.jobs.schemas import JobStatusName


def function_event_payload(function: Function) -> dict:
    """The live event body of a function (broadcast adds `kind` and `id`; documented in
    apps.charts.services and docs/reference/websocket-protocol.md)."""
    return {
        "expression": function.expression,
        "status": function.status,
        "progress": function.progress,
        "processed_at": iso(function.processed_at),
        "error": function.error or None,
        "image_url": function_image_url(function_id=function.pk, image_hash=function.image_hash),
        "updated_at": iso(function.updated_at),
    }


class FunctionEventOut(Schema):
    """A function's live event as a websocket client receives it (the AsyncAPI document,
    /api/asyncapi.json): `function_event_payload` with what the broadcast adds."""

    model_config = ConfigDict(extra="forbid", title="FunctionEvent")

    kind: Literal["function"]
    id: int = Field(ge=1)
    expression: str
    status: JobStatusName
    progress: int = Field(ge=0, le=100, description="Percent done.")
    processed_at: UtcDateTime | None = Field(
        description="End of the last processing: finished, failed or cancelled."
    )
    error: str | None = Field(description="Text of the last failure; null when there is none.")
    image_url: str | None = Field(description="Versioned chart URL; null until the first chart.")
    updated_at: UtcDateTime = Field(
        description="The state's time: drop an event not newer than one already applied."
    )
    event_id: str = Field(description="Position in the stream's event log, for `since` after a reconnect.")
