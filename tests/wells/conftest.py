"""Fixtures of the wells tests: wells, files, and imports run in this process."""

from collections.abc import Callable

import pytest

from apps.jobs.models import JobStatus
from apps.wells.models import HistoryImport, Well
from apps.wells.services import history_import_create, history_import_run, well_create

DAILY_HEADER = "date,oil,water,gas,hours_on\n"


@pytest.fixture
def well(db) -> Well:
    return well_create(name="A-1", field="North")


@pytest.fixture
def monthly_well(db) -> Well:
    return well_create(name="M-1", field="North", frequency="monthly")


def csv_bytes(*lines: str, header: str = DAILY_HEADER) -> bytes:
    return (header + "".join(f"{line}\n" for line in lines)).encode()


@pytest.fixture
def run_import(db) -> Callable[..., HistoryImport]:
    """Accept a file and run its import here (no broker, no worker); the import as it ended."""

    def run(content: bytes, *, well: Well | None = None, **params) -> HistoryImport:
        created = history_import_create(stream=[content], well_id=well.pk if well else None, **params)
        history_import_run(import_id=created.pk)
        created.refresh_from_db()
        assert created.status in (JobStatus.FINISHED, JobStatus.FAILED), created.status
        return created

    return run
