"""Retention: ended, unpinned jobs past their kind's days go with their rows and images, in
bounded batches; pins keep them; the list counters stay exact; each purge is logged and
counted."""

import logging
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.calculations.models import Calculation, CalculationChart, CalculationRow
from apps.calculations.services import CALCULATION_JOB
from apps.charts.services import FUNCTION_JOB
from apps.core.selectors import status_counts
from apps.jobs.models import JobStatus
from apps.jobs.retention import jobs_purge
from apps.jobs.tasks import jobs_purge_task

pytestmark = pytest.mark.django_db

DAYS = 90  # CALCULATIONS_RETENTION_DAYS
JANUARY = {"date_start": date(2020, 1, 1), "date_fin": date(2020, 1, 31)}  # 31 rows


def ended_days_ago(run: Calculation, days: float) -> Calculation:
    Calculation.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(days=days))
    return run


def counters_exact() -> bool:
    real: dict[str, int] = {}
    for status in Calculation.objects.values_list("status", flat=True):
        real[status] = real.get(status, 0) + 1
    return status_counts(model=Calculation) == real


@pytest.fixture
def old_and_new(make_finished, make_calculation):
    old = [ended_days_ago(make_finished(**JANUARY), DAYS + 1) for _ in range(3)]
    CalculationChart.objects.create(
        calculation=old[0],
        format="png",
        width=10,
        height=10,
        drawn_from=timezone.now(),
        image=b"png",
        image_hash="h",
        size=3,
    )
    failed = ended_days_ago(make_calculation(status=JobStatus.FAILED), DAYS + 5)
    cancelled = ended_days_ago(make_calculation(status=JobStatus.CANCELLED), DAYS + 5)
    recent = ended_days_ago(make_finished(**JANUARY), DAYS - 1)
    pinned = ended_days_ago(make_finished(**JANUARY, pinned=True), DAYS + 30)
    queued = make_calculation(status=JobStatus.QUEUED, finished_at=timezone.now() - timedelta(days=400))
    return {
        "old": old,
        "failed": failed,
        "cancelled": cancelled,
        "recent": recent,
        "pinned": pinned,
        "queued": queued,
    }


def test_it_removes_ended_unpinned_jobs_past_their_days_with_their_rows_and_images(old_and_new):
    result = jobs_purge(kind=CALCULATION_JOB)

    gone = [*old_and_new["old"], old_and_new["failed"], old_and_new["cancelled"]]
    kept = [old_and_new["recent"], old_and_new["pinned"], old_and_new["queued"]]
    assert not Calculation.objects.filter(pk__in=[run.pk for run in gone]).exists()
    assert set(Calculation.objects.values_list("pk", flat=True)) == {run.pk for run in kept}
    assert not CalculationRow.objects.filter(calculation_id__in=[run.pk for run in gone]).exists()
    assert not CalculationChart.objects.exists()
    assert CalculationRow.objects.filter(calculation=old_and_new["pinned"]).count() == 31
    assert result.jobs == 5 and result.complete
    assert result.rows == {
        "calculations_calculation": 5,
        "calculations_calculationrow": 93,
        "calculations_calculationchart": 1,
    }


def test_the_list_counters_stay_exact_through_a_purge(old_and_new, api_client):
    jobs_purge(kind=CALCULATION_JOB, batch_rows=40)

    assert counters_exact()
    body = api_client.get("/api/calculations").json()
    assert body["count"] == 3 and len(body["results"]) == 3
    assert api_client.get("/api/calculations", {"status": "finished"}).json()["count"] == 2


def test_each_transaction_deletes_a_bounded_number_of_rows(old_and_new):
    # Oldest first: the failed and the cancelled run (1 row each), then the finished ones (32
    # rows each: 31 results and the run). A batch of 70 rows takes 1 + 1 + 32 + 32, then the last.
    with CaptureQueriesContext(connection) as queries:
        result = jobs_purge(kind=CALCULATION_JOB, batch_rows=70)

    job_deletes = [
        q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "calculations_calculation" ')
    ]
    assert result.jobs == 5
    assert [sql.count(",") + 1 for sql in job_deletes] == [4, 1]


def test_a_job_larger_than_a_batch_goes_alone(make_finished):
    runs = [ended_days_ago(make_finished(**JANUARY), DAYS + 1) for _ in range(2)]

    with CaptureQueriesContext(connection) as queries:
        result = jobs_purge(kind=CALCULATION_JOB, batch_rows=5)

    assert result.jobs == 2 and not Calculation.objects.filter(pk__in=[run.pk for run in runs]).exists()
    assert len([q for q in queries if q["sql"].startswith('DELETE FROM "calculations_calculation" ')]) == 2


def test_a_purge_past_its_time_budget_stops_and_the_next_goes_on(old_and_new):
    first = jobs_purge(kind=CALCULATION_JOB, batch_rows=40, budget=0)
    second = jobs_purge(kind=CALCULATION_JOB, batch_rows=40)

    assert not first.complete and first.jobs == 3  # one batch: 1 + 1 + 32 rows
    assert second.complete and first.jobs + second.jobs == 5


def test_a_kind_kept_for_ever_is_never_purged(make_function):
    function = make_function(status=JobStatus.FINISHED, processed_at=timezone.now() - timedelta(days=10_000))

    result = jobs_purge(kind=FUNCTION_JOB)

    assert result.jobs == 0 and result.total_rows == 0
    function.refresh_from_db()


def test_days_come_from_the_kinds_policy_or_its_setting(old_and_new, settings):
    settings.CALCULATIONS_RETENTION_DAYS = 1000

    assert jobs_purge(kind=CALCULATION_JOB).jobs == 0


def test_a_pin_through_the_api_keeps_an_old_run(make_finished, api_client):
    run = ended_days_ago(make_finished(**JANUARY), DAYS + 1)
    api_client.post(f"/api/calculations/{run.pk}/pin")

    jobs_purge(kind=CALCULATION_JOB)
    api_client.post(f"/api/calculations/{run.pk}/unpin")
    kept = Calculation.objects.filter(pk=run.pk).exists()
    jobs_purge(kind=CALCULATION_JOB)

    assert kept and not Calculation.objects.filter(pk=run.pk).exists()


def test_the_purge_is_logged_and_counted(old_and_new, caplog):
    with caplog.at_level(logging.INFO, logger="apps.jobs.retention"):
        summary = jobs_purge_task()

    assert summary["calculation"] == 99 and summary["function"] == 0  # functions are kept for ever
    (line,) = [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("Calculation retention")
    ]
    assert line.startswith("Calculation retention (90 days): removed 5 jobs, 99 rows (")
    text = Client().get("/metrics").content.decode()
    assert (
        'calcboard_retention_purged_rows_total{kind="calculation",table="calculations_calculationrow"}'
        in text
    )
    assert 'calcboard_retention_purge_duration_seconds_count{kind="calculation"}' in text
