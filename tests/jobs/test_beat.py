"""The beat schedule (built from the registry of job kinds, project/celery.py) as beat runs it:
each job kind's sweep task is sent once per its <KIND>_SWEEP_INTERVAL, the retention purge
once per JOBS_RETENTION_INTERVAL, and a task nobody picked up in time expires."""

from datetime import timedelta

import pytest
from celery.beat import Scheduler
from django.conf import settings

from apps.jobs.registry import job_kinds
from project.celery import app

# The worker's task discovery (each installed app's tasks module), done now.
app.autodiscover_tasks(force=True)
SWEEPS = {app.tasks[kind.sweep_task_name]: kind for kind in job_kinds if kind.sweep_task_name}
PURGE = app.tasks["jobs.purge"]


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict]]:
    """What beat sends: (task name, options), instead of publishing it."""
    record: list[tuple[str, dict]] = []

    def recorder(name: str):
        return lambda args=None, kwargs=None, **options: record.append((name, options))

    for task in [*SWEEPS, PURGE]:
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
    assert sorted(name for name, _ in sent) == sorted([*(task.name for task in SWEEPS), "jobs.purge"])
    assert {"calculations.sweep", "charts.sweep"} <= {name for name, _ in sent}
    for task, kind in SWEEPS.items():
        (options,) = [options for name, options in sent if name == task.name]
        assert options["expires"] == kind.setting("SWEEP_INTERVAL")
    (purge,) = [options for name, options in sent if name == "jobs.purge"]
    assert purge["expires"] == settings.JOBS_RETENTION_INTERVAL
    every = {entry.task: entry.schedule.run_every.total_seconds() for entry in scheduler.schedule.values()}
    assert every == {
        **{task.name: kind.setting("SWEEP_INTERVAL") for task, kind in SWEEPS.items()},
        "jobs.purge": settings.JOBS_RETENTION_INTERVAL,
    }
