"""The live event payload of a history import, next to nothing else: what the import job
broadcasts (apps.jobs.services through HISTORY_IMPORT_JOB) and what the REST detail repeats."""

from apps.core.formatting import iso
from apps.wells.models import HistoryImport


def history_import_event_payload(history_import: HistoryImport) -> dict:
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
