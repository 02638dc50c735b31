"""The live event payload of a history import, next to nothing else: what the import job
broadcasts (apps.jobs.services through HISTORY_IMPORT_JOB) and what the REST detail repeats."""

from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from apps.core.formatting import iso
from apps.core.schemas import UtcDateTime
from apps.jobs.schemas import JobStatusName
from apps.wells.models import HistoryImport, ImportMode


def history_import_event_payload(history_import: HistoryImport) -> dict[str, Any]:
    """The live event body of an import (broadcast adds `kind` and `id`)."""
    return {
        "well_id": history_import.well_id,
        "field_id": history_import.field_id,
        "mode": history_import.mode,
        "status": history_import.status,
        "progress": history_import.progress,
        "records": history_import.records,
        "error_count": history_import.error_count,
        "error": history_import.error or None,
        "finished_at": iso(history_import.finished_at),
        "updated_at": iso(history_import.updated_at),
    }


class HistoryImportEventOut(Schema):
    """An import's live event as a websocket client receives it (the AsyncAPI document,
    /api/asyncapi.json): `history_import_event_payload` with what the broadcast adds."""

    model_config = ConfigDict(extra="forbid", title="HistoryImportEvent")

    kind: Literal["historyimport"]
    id: int = Field(ge=1)
    well_id: int | None = Field(description="The well of a one-well import; null for a multi-well file.")
    field_id: int | None = Field(description="The field a multi-well file creates its wells in.")
    mode: Literal[tuple(ImportMode.values)]  # type: ignore[valid-type]  # the model's choices, once
    status: JobStatusName
    progress: int = Field(ge=0, le=100, description="Percent done.")
    records: int = Field(ge=0, description="Records written (or replaced) once finished.")
    error_count: int = Field(ge=0, description="Problems found in the file (the first 100 are kept).")
    error: str | None = Field(description="Why it failed; null when there is none.")
    finished_at: UtcDateTime | None = Field(description="When it finished, failed or was cancelled.")
    updated_at: UtcDateTime = Field(
        description="The state's time: drop an event not newer than one already applied."
    )
    event_id: str = Field(description="Position in the stream's event log, for `since` after a reconnect.")
