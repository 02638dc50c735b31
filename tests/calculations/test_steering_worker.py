"""Steering runs a real worker is executing (the demo delay makes a one-year run last ~3 s)."""

import os
import signal

import pytest

from apps.calculations.models import Calculation, CalculationRow
from apps.calculations.services import CALCULATION_JOB, calculation_create
from apps.jobs.models import JobStatus
from harness.processes import wait_until
from tests.calculations.conftest import body

pytestmark = pytest.mark.django_db(transaction=True)
ONE_YEAR = {"date_start": "2020-01-01", "date_fin": "2020-12-31", "lag": 1}


def reload(pk: int) -> Calculation:
    return Calculation.objects.get(pk=pk)


def test_a_running_run_cancelled_stops_at_its_next_step_and_keeps_no_rows(api_client, demo_worker, settings):
    demo_worker.use(settings)
    calculation = calculation_create(**ONE_YEAR, name="Started by mistake")
    wait_until(lambda: reload(calculation.pk).progress >= 20, timeout=30, what="the run to get under way")

    response = api_client.post(f"/api/calculations/{calculation.pk}/cancel")
    assert response.status_code == 200 and body(response)["status"] == "cancelled"
    at_cancel = reload(calculation.pk).progress
    log = demo_worker.process
    wait_until(
        lambda: f"Calculation {calculation.pk} stopped" in log.log_tail(200_000), timeout=10, what="the stop"
    )

    cancelled = reload(calculation.pk)
    assert cancelled.status == JobStatus.CANCELLED and at_cancel <= cancelled.progress < 100
    assert cancelled.progress <= at_cancel + 10  # it stopped at the next step
    assert not CalculationRow.objects.filter(calculation=cancelled).exists()
    assert api_client.post(f"/api/calculations/{calculation.pk}/cancel").status_code == 409


def test_a_cancel_mid_step_sends_one_cancelled_event_and_nothing_after(
    api_client, demo_worker, settings, live_events
):
    """The worker is asleep inside a step when the cancel lands; at its next step it finds the
    run gone and stops without a word: subscribers see the run's progress, then `cancelled`
    once, then nothing."""
    demo_worker.use(settings)
    calculation = calculation_create(**ONE_YEAR, name="Cancelled mid-step")
    wait_until(lambda: reload(calculation.pk).progress >= 20, timeout=30, what="the run to get under way")
    assert api_client.post(f"/api/calculations/{calculation.pk}/cancel").status_code == 200
    log = demo_worker.process
    wait_until(
        lambda: f"Calculation {calculation.pk} stopped" in log.log_tail(200_000), timeout=10, what="the stop"
    )

    events = live_events.events(calculation_id=calculation.pk, timeout=2.0)  # until 2 s of silence
    statuses = [event["status"] for event in events]
    assert statuses[0] == "queued" and statuses[-1] == "cancelled" and statuses.count("cancelled") == 1
    assert set(statuses[1:-1]) == {"running"}
    progress = [event["progress"] for event in events[1:-1]]
    assert progress == sorted(progress) and progress[-1] >= 20
    assert events[-1]["progress"] == progress[-1] == reload(calculation.pk).progress  # kept where it stopped
    assert [event["event_id"] for event in events] == sorted(event["event_id"] for event in events)


def test_a_queued_run_cancelled_never_starts(api_client, demo_worker, settings):
    demo_worker.use(settings)
    ahead = calculation_create(**ONE_YEAR, name="Ahead in the queue")
    waiting = calculation_create(**ONE_YEAR, name="Waiting")  # one worker process: it waits
    wait_until(lambda: reload(ahead.pk).status == JobStatus.RUNNING, timeout=30, what="the first run")
    assert reload(waiting.pk).status == JobStatus.QUEUED

    response = api_client.post(f"/api/calculations/{waiting.pk}/cancel")
    assert response.status_code == 200 and body(response)["status"] == "cancelled"
    api_client.post(f"/api/calculations/{ahead.pk}/cancel")  # let its message come sooner
    log = demo_worker.process
    wait_until(
        lambda: f"Calculation {waiting.pk}: nothing to run" in log.log_tail(200_000),
        timeout=30,
        what="its message",
    )
    never_ran = reload(waiting.pk)
    assert (never_ran.status, never_ran.attempts, never_ran.started_at) == (JobStatus.CANCELLED, 0, None)


def test_a_run_that_kills_its_worker_every_time_ends_failed_after_the_configured_attempts(
    demo_worker, settings
):
    """SIGKILL of the pool process mid-run, as the OOM killer does: the message comes back
    (late acks) to a fresh pool process each time, until the claim refuses a 4th attempt."""
    demo_worker.use(settings)
    calculation = calculation_create(**ONE_YEAR, name="Out of memory every time")
    for attempt in (1, 2, 3):
        wait_until(
            lambda: (lambda c: c.status == JobStatus.RUNNING and c.attempts == attempt and c.progress >= 10)(  # noqa: B023 - waited for within this iteration
                reload(calculation.pk)
            ),
            timeout=60,
            what=f"attempt {attempt}",
        )
        for pid in demo_worker.pool_pids():
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: reload(calculation.pk).status == JobStatus.FAILED, timeout=60, what="the run to fail")
    failed = reload(calculation.pk)
    assert failed.attempts == CALCULATION_JOB.setting("MAX_ATTEMPTS") == 3
    assert failed.error.startswith("Stopped after 3 attempts: each time, the worker running it stopped")
    assert not CalculationRow.objects.filter(calculation=failed).exists()
