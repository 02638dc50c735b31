"""A real run: the API on the real PostgreSQL, RabbitMQ and a real Celery worker process."""

import time

import pytest

from apps.calculations.models import Calculation, CalculationRow
from apps.calculations.services import CALCULATION_JOB
from apps.jobs.services import jobs_publish
from harness.processes import wait_until
from tests.calculations.conftest import body

pytestmark = pytest.mark.django_db(transaction=True)  # the worker must see committed rows


def wait_for(pks: list[int], *, status: str = "finished", timeout: float = 60) -> list[Calculation]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(Calculation.objects.filter(pk__in=pks).order_by("pk"))
        if len(runs) == len(pks) and all(run.status == status for run in runs):
            return runs
        time.sleep(0.1)
    raise AssertionError(f"runs {pks} not {status}: {[(r.pk, r.status) for r in runs]}")


def test_a_run_goes_queued_running_finished_through_a_real_worker(api_client, celery_worker, live_events):
    response = api_client.post(
        "/api/calculations",
        {"date_start": "2020-01-01", "date_fin": "2029-12-31", "lag": 1, "name": "Ten years"},
        content_type="application/json",
    )
    assert response.status_code == 201
    pk = body(response)["id"]
    events = live_events.events(calculation_id=pk, timeout=30)
    assert [event["status"] for event in events] == ["queued", "running", "finished"]
    assert [event["progress"] for event in events][-1] == 100
    (run,) = wait_for([pk])
    assert run.attempts == 1 and run.dispatched_at is not None
    assert run.launched_at <= run.dispatched_at and run.launched_at <= run.started_at <= run.finished_at
    assert CalculationRow.objects.filter(calculation_id=pk).count() == 3653

    detail = body(api_client.get(f"/api/calculations/{pk}", {"fields": "name,duration"}))
    assert detail["status"] == "finished" and len(detail["result"]) == 3653
    assert detail["name"] == "Ten years" and detail["duration"] == run.duration
    listed = body(api_client.get("/api/calculations"))["results"]
    assert {"id": pk, "name": "Ten years", "status": "finished"}.items() <= listed[0].items()


def test_runs_queued_together_all_finish_one_after_another(api_client, celery_worker):
    pks = [
        body(
            api_client.post(
                "/api/calculations",
                {"date_start": "2020-01-01", "date_fin": "2020-12-31", "lag": lag},
                content_type="application/json",
            )
        )["id"]
        for lag in range(1, 9)
    ]
    runs = wait_for(pks)
    assert [CalculationRow.objects.filter(calculation=run).count() for run in runs] == [
        365 // lag + 1 for lag in range(1, 9)
    ]
    assert all(run.attempts == 1 for run in runs)
    # First in, first out: with 2 worker processes a run never starts before one queued two
    # places ahead of it.
    starts = [run.started_at for run in runs]
    assert all(starts[index - 2] <= starts[index] for index in range(2, len(starts)))


def test_a_message_for_a_deleted_run_is_consumed_and_dropped(celery_worker, make_calculation):
    calculation = make_calculation()
    pk = calculation.pk
    calculation.delete()
    assert jobs_publish(kind=CALCULATION_JOB, ids=[pk]) == 1
    wait_until(
        lambda: f"Calculation {pk}: nothing to run" in celery_worker.log_tail(200_000),
        timeout=30,
        what="the worker to consume the message",
    )
    assert not Calculation.objects.filter(pk=pk).exists()
