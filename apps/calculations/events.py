"""The live event payload of a calculation: what its job broadcasts on every state change
(apps.jobs.services through CALCULATION_JOB)."""

from typing import Any

from apps.calculations.models import Calculation
from apps.core.formatting import iso
from apps.jobs.models import JobStatus


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
