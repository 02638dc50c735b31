"""Progress at its production interval (the kind's PROGRESS_MIN_INTERVAL, not a test value): a
step is written and broadcast only when the interval has passed since the last write, and
never held back once it has; the last step is left to the `finished` write."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.calculations import services as calculation_services
from apps.calculations.services import CALCULATION_JOB, calculation_run
from apps.jobs import services as jobs_services
from tests.spies import spy

# Steps closer than this to the interval are not classified: the test's clock is read a few
# microseconds away from the service's.
MARGIN = timedelta(milliseconds=5)


@pytest.mark.django_db(transaction=True)
def test_progress_is_written_once_per_production_interval_and_never_held_back(
    make_calculation, live_events, settings, monkeypatch
):
    interval = CALCULATION_JOB.setting("PROGRESS_MIN_INTERVAL")
    assert interval == CALCULATION_JOB.policy.progress_min_interval > 0  # production's value
    settings.CALCULATIONS_STEP_DELAY = interval * 0.2  # ten steps, about five per interval
    calculation = make_calculation()

    started: list = []  # when the writer starts counting (right after the claim)
    steps: list[tuple[int, object]] = []
    writer = calculation_services._progress_writer

    def watched_writer(calculation):
        on_progress = writer(calculation)
        started.append(timezone.now())

        def step(percent: int) -> None:
            steps.append((percent, timezone.now()))
            on_progress(percent)

        return step

    monkeypatch.setattr(calculation_services, "_progress_writer", watched_writer)
    writes = spy(monkeypatch, jobs_services.job_progress, jobs_services)
    calculation_run(calculation_id=calculation.pk)

    written = [call["percent"] for call in writes]
    assert [percent for percent, _ in steps] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    last = started[0]
    for percent, at in steps:
        since = at - last
        if percent == 100:
            assert percent not in written  # the `finished` write covers it
        elif since >= timedelta(seconds=interval) + MARGIN:
            assert percent in written, (percent, since)  # never held back
        elif since < timedelta(seconds=interval) - MARGIN:
            assert percent not in written, (percent, since)  # at most once per interval
        if percent in written:
            last = at
    assert written == sorted(written) and len(written) < 9  # some steps were skipped

    events = live_events.events(calculation_id=calculation.pk)
    assert [event["progress"] for event in events] == [0, *written, 100]
