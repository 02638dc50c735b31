import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.calculations.models import Calculation
from apps.calculations.services import CALCULATION_JOB, calculation_sweep
from apps.jobs.models import JobStatus
from apps.jobs.services import jobs_publish
from tests.calculations.conftest import backdate

pytestmark = pytest.mark.django_db(transaction=True)  # the sweep publishes after commit


def test_dispatch_publishes_the_run_and_stamps_it(make_calculation, scratch_queue):
    calculation = make_calculation()
    assert jobs_publish(kind=CALCULATION_JOB, ids=[calculation.pk]) == 1
    calculation.refresh_from_db()
    assert calculation.dispatched_at is not None
    assert scratch_queue.message_count() == 1


def test_dispatch_to_an_unreachable_broker_is_logged_and_leaves_the_run_in_the_outbox(
    make_calculation, broker_down, caplog
):
    calculation = make_calculation()
    with caplog.at_level(logging.WARNING, logger="apps.calculations.services"):
        assert jobs_publish(kind=CALCULATION_JOB, ids=[calculation.pk]) == 0
    calculation.refresh_from_db()
    assert calculation.dispatched_at is None and calculation.status == JobStatus.QUEUED
    assert f"Calculation {calculation.pk} saved but not published" in caplog.text


def test_the_sweep_requeues_a_run_whose_worker_went_silent(
    make_calculation, scratch_queue, settings, live_events
):
    settings.CALCULATIONS_STALE_AFTER = 60
    calculation = make_calculation(status=JobStatus.RUNNING, progress=40, attempts=1)
    backdate(calculation, seconds=61)
    assert calculation_sweep()["requeued"] == 1
    calculation.refresh_from_db()
    assert (calculation.status, calculation.progress) == (JobStatus.QUEUED, 0)
    assert calculation.error == "Requeued: no progress for over 60 s on attempt 1."
    assert calculation.dispatched_at is not None and scratch_queue.message_count() == 1
    assert [event["status"] for event in live_events.events(calculation_id=calculation.pk, timeout=0.5)] == [
        "queued"
    ]


def test_the_sweep_fails_a_run_that_ran_out_of_attempts_with_the_reason(
    make_calculation, scratch_queue, settings
):
    settings.CALCULATIONS_STALE_AFTER = 60
    settings.CALCULATIONS_MAX_ATTEMPTS = 3
    calculation = make_calculation(status=JobStatus.RUNNING, progress=40, attempts=3)
    backdate(calculation, seconds=61)
    assert calculation_sweep()["failed"] == 1
    calculation.refresh_from_db()
    assert calculation.status == JobStatus.FAILED and calculation.finished_at is not None
    assert calculation.error == (
        "Stopped after 3 attempts: each time its worker stopped reporting for over 60 s (worker lost)."
    )
    assert scratch_queue.message_count() == 0


def test_the_sweep_leaves_runs_that_are_making_progress_alone(make_calculation, scratch_queue, settings):
    settings.CALCULATIONS_STALE_AFTER = 60
    calculation = make_calculation(status=JobStatus.RUNNING, progress=40, attempts=1)
    backdate(calculation, seconds=30)
    assert calculation_sweep() == {"requeued": 0, "failed": 0, "dispatched": 0, "undispatched": 0}
    calculation.refresh_from_db()
    assert (calculation.status, calculation.progress) == (JobStatus.RUNNING, 40)


def test_the_sweep_publishes_runs_the_api_could_not_publish(make_calculation, scratch_queue, settings):
    settings.CALCULATIONS_DISPATCH_GRACE = 10
    waiting = make_calculation()
    backdate(waiting, seconds=11)
    just_created = make_calculation()
    already_sent = make_calculation()
    Calculation.objects.filter(pk=already_sent.pk).update(dispatched_at=just_created.launched_at)
    backdate(already_sent, seconds=11)
    assert calculation_sweep()["dispatched"] == 1
    waiting.refresh_from_db()
    just_created.refresh_from_db()
    assert waiting.dispatched_at is not None and just_created.dispatched_at is None
    assert scratch_queue.message_count() == 1


def test_the_sweep_stops_publishing_while_the_broker_is_still_down(make_calculation, broker_down, settings):
    settings.CALCULATIONS_DISPATCH_GRACE = 10
    for calculation in (make_calculation(), make_calculation()):
        backdate(calculation, seconds=11)
    # The first refusal ends the batch: both stay in the outbox for the next sweep.
    assert calculation_sweep() == {"requeued": 0, "failed": 0, "dispatched": 0, "undispatched": 2}
    assert Calculation.objects.filter(dispatched_at__isnull=True).count() == 2


def test_the_sweep_task_runs_the_sweep(make_calculation, scratch_queue, settings):
    from apps.calculations.tasks import calculations_sweep_task

    settings.CALCULATIONS_DISPATCH_GRACE = 10
    backdate(make_calculation(), seconds=11)
    assert calculations_sweep_task.apply().get()["dispatched"] == 1


def test_the_sweep_publishes_again_a_run_whose_message_was_lost(make_calculation, scratch_queue, settings):
    settings.CALCULATIONS_QUEUED_STALE_AFTER = 3600
    lost = make_calculation(dispatched_at=timezone.now() - timedelta(seconds=3601))
    waiting_in_line = make_calculation(dispatched_at=timezone.now() - timedelta(seconds=600))
    assert calculation_sweep()["dispatched"] == 1
    lost.refresh_from_db()
    waiting_in_line.refresh_from_db()
    assert timezone.now() - lost.dispatched_at < timedelta(seconds=60)
    assert timezone.now() - waiting_in_line.dispatched_at > timedelta(seconds=599)
    assert scratch_queue.message_count() == 1
