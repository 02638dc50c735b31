"""Imports with real workers: killed mid-import (exactly once), cancelled mid-import, and two
imports into one well at once. Real processes: Celery workers on RabbitMQ, PostgreSQL."""

import threading
from datetime import date, timedelta

import pytest

from apps.jobs.models import JobStatus
from apps.wells.models import HistoryImport, ProductionRecord, Well
from apps.wells.services import history_import_cancel, history_import_create, well_create
from harness import processes
from harness.processes import wait_until
from project.settings.test import child_settings_env
from tests.conftest import ScratchQueue, unique_queue
from tests.wells.conftest import csv_bytes

pytestmark = pytest.mark.django_db(transaction=True)

DAYS = 1000


def daily_file(start: date = date(2015, 1, 1), days: int = DAYS, oil: float = 10) -> bytes:
    return csv_bytes(*(f"{start + timedelta(days=i)},{oil},1,,24" for i in range(days)))


def reload(pk: int) -> HistoryImport:
    return HistoryImport.objects.get(pk=pk)


@pytest.fixture
def slow_env(settings):
    """Workers of this test alone on a queue of their own, reading 100 records per step with
    0.4 s per step, so an import of 1,000 records has a "mid-import"."""
    queue = unique_queue("test-wells-slow")
    settings.WELLS_QUEUE = queue

    def env(**overrides) -> dict[str, str]:
        return child_settings_env(
            **{
                "WELLS_QUEUE": queue,
                "CALCULATIONS_QUEUE": f"{queue}-calc",
                "CHARTS_QUEUE": f"{queue}-charts",
                "WELLS_STEP_DELAY": 0.4,
                "WELLS_PROGRESS_MIN_INTERVAL": 0,
                "WELLS_IMPORT_CHUNK_ROWS": 100,
                **overrides,
            }
        )

    yield env
    for name in (queue, f"{queue}-calc", f"{queue}-charts"):
        ScratchQueue(name).delete()


def test_an_import_whose_worker_is_killed_mid_import_is_redelivered_and_written_once(test_db_name, slow_env):
    well = well_create(name="K-1", field="North")
    started: list[processes.Process] = []
    try:
        started.append(
            processes.start_worker(test_db_name, name="wells-doomed", concurrency=1, extra_env=slow_env())
        )
        accepted = history_import_create(stream=[daily_file()], well_id=well.pk)
        wait_until(lambda: reload(accepted.pk).progress >= 20, timeout=30, what="the import to get under way")

        started[0].kill()  # SIGKILL: no cleanup, no ack
        orphan = reload(accepted.pk)
        assert orphan.status == JobStatus.RUNNING and orphan.attempts == 1
        assert not ProductionRecord.objects.filter(well=well).exists()

        started.append(
            processes.start_worker(test_db_name, name="wells-rescuer", concurrency=1, extra_env=slow_env())
        )
        wait_until(lambda: reload(accepted.pk).status == JobStatus.FINISHED, timeout=90, what="redelivery")
        done = reload(accepted.pk)
        assert (done.attempts, done.records, done.progress) == (2, DAYS, 100)
        records = ProductionRecord.objects.filter(well=well)
        assert records.count() == records.values("date").distinct().count() == DAYS
        well.refresh_from_db()
        assert well.record_count == DAYS and well.cumulative_oil == 10 * DAYS
    finally:
        for process in started:
            process.stop()


def test_an_import_cancelled_mid_import_writes_nothing(test_db_name, slow_env):
    well = well_create(name="C-1", field="North")
    worker = processes.start_worker(test_db_name, name="wells-cancel", concurrency=1, extra_env=slow_env())
    try:
        accepted = history_import_create(stream=[daily_file()], well_id=well.pk)
        wait_until(lambda: reload(accepted.pk).progress >= 10, timeout=30, what="the import to get under way")
        history_import_cancel(import_id=accepted.pk)
        # The attempt notices at its next step and stops; the worker goes on to the next job.
        after = history_import_create(stream=[daily_file(days=3)], well_id=well.pk)
        wait_until(lambda: reload(after.pk).status == JobStatus.FINISHED, timeout=60, what="the next import")
        cancelled = reload(accepted.pk)
        assert cancelled.status == JobStatus.CANCELLED and cancelled.records == 0
        assert ProductionRecord.objects.filter(well=well).count() == 3
        assert not cancelled.chunks.exists()
    finally:
        worker.stop()


def test_two_imports_into_one_well_at_once_never_interleave(test_db_name, slow_env):
    """A one-well import and a multi-well file naming the same well, run by two worker processes
    at once: the per-well lock makes one wait for the other; both land, whole."""
    well = well_create(name="T-1", field="North")
    worker = processes.start_worker(
        test_db_name, name="wells-pair", concurrency=2, extra_env=slow_env(WELLS_STEP_DELAY=0.1)
    )
    try:
        multi = csv_bytes(
            *(f"T-1,{date(2018, 1, 1) + timedelta(days=i)},5,0,,24" for i in range(500)),
            header="well,date,oil,water,gas,hours_on\n",
        )
        results = {}

        def create(name, **kwargs):
            results[name] = history_import_create(**kwargs)

        threads = [
            threading.Thread(
                target=create, args=("one",), kwargs={"stream": [daily_file(days=500)], "well_id": well.pk}
            ),
            threading.Thread(target=create, args=("multi",), kwargs={"stream": [multi], "field": "North"}),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for created in results.values():
            wait_until(
                lambda pk=created.pk: reload(pk).status == JobStatus.FINISHED, timeout=90, what="both imports"
            )
        well.refresh_from_db()
        assert well.record_count == 1000 and well.cumulative_oil == 500 * 10 + 500 * 5
        assert Well.objects.filter(field__name="North").count() == 1
    finally:
        worker.stop()
