"""The chart job's task (charts.render), in-process: a service that stays down, the time
limit, a crash, the sweep (the retry policy itself: tests/jobs/test_tasks.py)."""

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from apps.charts import services, tasks
from harness.processes import free_port


@pytest.mark.django_db(transaction=True)
def test_a_service_that_stays_down_fails_after_every_attempt(dataservice, make_function, settings):
    settings.EXPORT_SERVER_URL = f"http://127.0.0.1:{free_port()}"
    function = make_function("t", status="queued")

    tasks.function_render_task.apply(args=[function.pk])  # eager: retries run at once

    function.refresh_from_db()
    assert function.status == "failed"
    assert function.error == "Export server unreachable (connection refused) after 3 attempts"


@pytest.mark.django_db(transaction=True)
def test_the_soft_time_limit_ends_the_row_failed(make_function, monkeypatch, settings):
    function = make_function("t", status="queued")

    def slow(**kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr("apps.integrations.dataservice.dataservice_points", slow)
    tasks.function_render_task.apply(args=[function.pk])
    function.refresh_from_db()
    assert function.status == "failed"
    assert (
        function.error == f"Chart job timed out after {services.FUNCTION_JOB.setting('SOFT_TIME_LIMIT'):g} s."
    )


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_crash_ends_the_row_failed(make_function, monkeypatch):
    function = make_function("t", status="queued")

    def crash(**kwargs):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr("apps.integrations.dataservice.dataservice_points", crash)
    tasks.function_render_task.apply(args=[function.pk])
    function.refresh_from_db()
    assert function.status == "failed"
    assert function.error == "Chart job crashed (ZeroDivisionError); see the worker log."


@pytest.mark.django_db
def test_the_sweep_task_reports_its_counts(make_function):
    assert tasks.functions_sweep_task.apply().get() == {
        "requeued": 0,
        "failed": 0,
        "dispatched": 0,
        "undispatched": 0,
    }
