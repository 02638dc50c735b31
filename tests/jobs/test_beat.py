"""The beat schedule (project/settings/base.py) as beat runs it: each job kind's sweep task is
sent once per its <KIND>_SWEEP_INTERVAL, and a sweep nobody picked up in time expires."""

from datetime import timedelta

import pytest
from celery.beat import Scheduler
from django.conf import settings

from apps.calculations.tasks import calculations_purge_task, calculations_sweep_task
from apps.charts.tasks import functions_sweep_task
from project.celery import app

SWEEPS = {
    calculations_sweep_task: "CALCULATIONS_SWEEP_INTERVAL",
    functions_sweep_task: "CHARTS_SWEEP_INTERVAL",
    # Retention: functions keep their charts for ever, so only calculations are purged.
    calculations_purge_task: "JOBS_RETENTION_INTERVAL",
}


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict]]:
    """What beat sends: (task name, options), instead of publishing it."""
    record: list[tuple[str, dict]] = []

    def recorder(name: str):
        return lambda args=None, kwargs=None, **options: record.append((name, options))

    for task in SWEEPS:
        monkeypatch.setattr(task, "apply_async", recorder(task.name))
    return record


def beat() -> Scheduler:
    scheduler = Scheduler(app=app, lazy=True)
    scheduler.merge_inplace(app.conf.beat_schedule)
    return scheduler


def run_due(scheduler: Scheduler) -> None:
    for _ in scheduler.schedule:
        scheduler.tick()


def test_nothing_is_sent_before_an_interval_has_passed(sent):
    run_due(beat())
    assert sent == []


def test_each_kinds_sweep_is_sent_once_per_interval_and_expires_with_it(sent):
    scheduler = beat()
    for entry in scheduler.schedule.values():
        entry.last_run_at -= timedelta(seconds=entry.schedule.run_every.total_seconds() + 1)
    run_due(scheduler)
    run_due(scheduler)  # just sent: not due again
    assert sorted(name for name, _ in sent) == ["calculations.purge", "calculations.sweep", "charts.sweep"]
    for task, interval in SWEEPS.items():
        (options,) = [options for name, options in sent if name == task.name]
        assert options["expires"] == getattr(settings, interval)
    every = {entry.task: entry.schedule.run_every.total_seconds() for entry in scheduler.schedule.values()}
    assert every == {task.name: getattr(settings, interval) for task, interval in SWEEPS.items()}
