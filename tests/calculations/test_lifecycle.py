"""The job lifecycle seen from a calculation, in-process: claims, limits, worker connections."""

import logging

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from apps.calculations import kernel
from apps.calculations.models import Calculation, CalculationRow
from apps.calculations.services import calculation_run
from apps.jobs.models import JobStatus


def test_a_run_already_claimed_its_maximum_of_times_ends_failed_with_the_reason(make_calculation, settings):
    settings.CALCULATIONS_MAX_ATTEMPTS = 3
    # Its third worker died mid-run; the message comes back once more.
    calculation = make_calculation(status=JobStatus.RUNNING, attempts=3, progress=40)
    assert calculation_run(calculation_id=calculation.pk, resume=True) is None
    calculation.refresh_from_db()
    assert (calculation.status, calculation.attempts) == (JobStatus.FAILED, 3)
    assert calculation.error == (
        "Stopped after 3 attempts: each time, the worker running it stopped before it ended "
        "(killed, out of memory or past its time limit)."
    )


def test_a_run_past_its_soft_time_limit_ends_failed_as_timed_out(make_calculation, settings, monkeypatch):
    settings.CALCULATIONS_SOFT_TIME_LIMIT = 600

    def endless(**kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(kernel, "run", endless)
    calculation = make_calculation()
    failed = calculation_run(calculation_id=calculation.pk)
    assert (failed.status, failed.error) == (JobStatus.FAILED, "The calculation timed out after 600 s.")
    assert not CalculationRow.objects.filter(calculation=calculation).exists()


@pytest.mark.django_db(transaction=True)
def test_a_batch_of_events_keeps_sending_after_one_fails(make_calculation, live_events, monkeypatch, caplog):
    from apps.live import realtime

    first, second = make_calculation(), make_calculation()
    real_group_send = realtime._group_send

    async def failing_once(groups, message):
        if message["event"]["id"] == first.pk:
            raise ConnectionError("Redis went away")
        await real_group_send(groups, message)

    monkeypatch.setattr(realtime, "_group_send", failing_once)
    with caplog.at_level(logging.WARNING, logger="apps.live.realtime"):
        realtime.broadcast_events(
            kind="calculation",
            events=[(first.pk, {"status": "cancelled"}), (second.pk, {"status": "cancelled"})],
        )
        assert [event["status"] for event in live_events.events(calculation_id=second.pk, timeout=1)] == [
            "cancelled"
        ]
    assert f"Could not broadcast calculation {first.pk} event" in caplog.text
    assert Calculation.objects.count() == 2
