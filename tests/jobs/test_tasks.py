"""The one retry policy of job tasks (apps.jobs.tasks), for every registered kind, run in-process."""

import pytest
from django.db import OperationalError

from apps.calculations import tasks as calculation_tasks
from apps.charts import tasks as chart_tasks
from apps.integrations.transport import ServiceError
from apps.jobs.registry import JobKind, job_kinds
from apps.jobs.tasks import MAX_RETRIES, retry_countdown
from project.celery import app

# Every registered kind; each task's first step is the one lifecycle's claim, where a fault
# is injected whatever the kind.
# The worker's task discovery (each installed app's tasks module), done now.
app.autodiscover_tasks(force=True)
KINDS = {kind.live_kind: kind for kind in job_kinds}
CLAIM = "apps.jobs.services.job_claim"


def task_of(kind: JobKind):
    return app.tasks[kind.task_name]


def failing(times: int, exc: Exception, calls: list):
    """A service that raises `exc` on its first `times` calls; it records every call's `resume`."""

    def service(**kwargs):
        calls.append(kwargs["resume"])
        if len(calls) <= times:
            raise exc

    return service


@pytest.mark.parametrize("kind", KINDS)
def test_the_backoff_doubles_per_retry_with_jitter_and_is_capped(kind, settings):
    job = KINDS[kind]
    setattr(settings, f"{job.setting_prefix}_RETRY_BACKOFF", 2)
    setattr(settings, f"{job.setting_prefix}_RETRY_BACKOFF_MAX", 10)
    delays = [retry_countdown(kind=job, retries=n) for n in range(6)]
    assert 1.6 <= delays[0] <= 2.4 and 3.2 <= delays[1] <= 4.8 and 6.4 <= delays[2] <= 9.6
    assert all(8 <= delay <= 12 for delay in delays[3:])


@pytest.mark.parametrize("kind", KINDS)
def test_a_database_outage_is_retried_and_the_retry_takes_the_job_over(kind, monkeypatch):
    task = task_of(KINDS[kind])
    calls: list[bool] = []
    monkeypatch.setattr(CLAIM, failing(2, OperationalError("server closed the connection"), calls))
    result = task.apply(args=[7])  # eager: the retries run at once
    assert result.successful()
    assert calls == [False, True, True]


@pytest.mark.parametrize("kind", KINDS)
def test_one_message_gets_at_most_the_policy_s_retries(kind, monkeypatch):
    task = task_of(KINDS[kind])
    calls: list[bool] = []
    monkeypatch.setattr(CLAIM, failing(1000, OperationalError("the database is gone"), calls))
    result = task.apply(args=[7])
    assert isinstance(result.result, OperationalError)
    assert len(calls) == 1 + MAX_RETRIES


def test_a_chart_retries_a_service_that_can_recover_but_a_calculation_does_not_know_it(monkeypatch):
    down = ServiceError(service="Export server", message="unreachable (connection refused)", transient=True)
    chart_calls: list[bool] = []
    monkeypatch.setattr("apps.charts.services.function_render", failing(1, down, chart_calls))
    assert chart_tasks.function_render_task.apply(args=[7]).successful() and chart_calls == [False, True]

    calculation_calls: list[bool] = []
    monkeypatch.setattr("apps.calculations.tasks.calculation_run", failing(1, down, calculation_calls))
    assert calculation_tasks.calculation_run_task.apply(args=[7]).failed() and calculation_calls == [False]


@pytest.mark.parametrize("kind", KINDS)
def test_a_redelivered_message_takes_the_job_over(kind, monkeypatch):
    task = task_of(KINDS[kind])
    calls: list[bool] = []
    monkeypatch.setattr(CLAIM, failing(0, OperationalError(), calls))
    for delivery_info in ({"redelivered": True}, {"redelivered": False}, None):
        task.push_request(retries=0, delivery_info=delivery_info)
        try:
            task.run(7)
        finally:
            task.pop_request()
    assert calls == [True, False, False]
