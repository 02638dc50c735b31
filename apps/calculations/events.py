"""The live event payload of a calculation: what its job broadcasts on every state change
(apps.jobs.services through CALCULATION_JOB)."""

from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from apps.calculations.models import Calculation
from apps.core.formatting import iso
from apps.core.schemas import UtcDateTime
from apps.jobs.models import JobStatus
from apps.jobs.schemas import JobStatusName


def calculation_event_payload(calculation: Calculation) -> dict[str, Any]:
    """The live event body of a calculation (broadcast adds `kind` and `id`).

    {
      "name": str,
      "status": "queued" | "running" | "finished" | "failed" | "cancelled",
      "progress": int 0-100,
      "launched_at": ISO 8601 UTC (submitted),
      "started_at": ISO 8601 UTC | null (last attempt started),
      "finished_at": ISO 8601 UTC | null,
      "duration": float seconds | null (finished or failed runs),
      "error": str | null (failed runs only),
      "updated_at": ISO 8601 UTC with microseconds; drop events older than the last one seen
    }
    """
    return {
        "name": calculation.name,
        "status": calculation.status,
        "progress": calculation.progress,
        "launched_at": iso(calculation.launched_at),
        "started_at": iso(calculation.started_at),
        "finished_at": iso(calculation.finished_at),
        "duration": calculation.duration,
        "error": (calculation.error or None) if calculation.status == JobStatus.FAILED else None,
        "updated_at": iso(calculation.updated_at),
    }


class CalculationEventOut(Schema):
    """A calculation's live event as a websocket client receives it (the AsyncAPI document,
    /api/asyncapi.json): `calculation_event_payload` with what the broadcast adds."""

    model_config = ConfigDict(extra="forbid", title="CalculationEvent")

    kind: Literal["calculation"]
    id: int = Field(ge=1)
    name: str
    status: JobStatusName
    progress: int = Field(ge=0, le=100, description="Percent done.")
    launched_at: UtcDateTime = Field(description="When the run was submitted.")
    started_at: UtcDateTime | None = Field(description="When its last attempt started.")
    finished_at: UtcDateTime | None = Field(description="When it finished, failed or was cancelled.")
    duration: float | None = Field(description="Seconds spent running, once it has ended.")
    error: str | None = Field(description="Why it failed; null unless `status` is `failed`.")
    updated_at: UtcDateTime = Field(
        description="The state's time: drop an event not newer than one already applied."
    )
    event_id: str = Field(description="Position in the stream's event log, for `since` after a reconnect.")
