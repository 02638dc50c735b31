"""The render task's policy: retries with backoff, time limit, crash handling (run in-process)."""

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from apps.charts import tasks
from harness.processes import free_port


def test_backoff_grows_exponentially_and_is_capped(settings):
    settings.CHARTS_RETRY_BACKOFF, settings.CHARTS_RETRY_BACKOFF_MAX = 2, 10
    delays = [tasks.retry_countdown(retries=n) for n in range(6)]
    assert 1.6 <= delays[0] <= 2.4 and 3.2 <= delays[1] <= 4.8 and 6.4 <= delays[2] <= 9.6
    assert all(delay <= 12 for delay in delays)


def test_the_task_is_declared_with_late_acks_and_time_limits(settings):
    task = tasks.function_render_task
    assert task.name == "charts.render"
    assert task.acks_late and task.reject_on_worker_lost
    assert 0 < task.soft_time_limit == settings.CHARTS_SOFT_TIME_LIMIT < task.time_limit == settings.CHARTS_TIME_LIMIT


@pytest.mark.django_db(transaction=True)
def test_a_service_that_stays_down_fails_after_every_attempt(dataservice, make_function, settings):
    settings.EXPORT_SERVER_URL = f"http://127.0.0.1:{free_port()}"
    function = make_function("t", status="queued")

    tasks.function_render_task.apply(args=[function.pk])  # eager: retries run at once

    function.refresh_from_db()
    assert function.status == "failed"
    assert function.error == "Image service unreachable (connection refused) after 3 attempts"


@pytest.mark.django_db(transaction=True)
def test_the_soft_time_limit_ends_the_row_failed(make_function, monkeypatch, settings):
    function = make_function("t", status="queued")

    def slow(**kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr("apps.charts.clients.dataservice_points", slow)
    tasks.function_render_task.apply(args=[function.pk])
    function.refresh_from_db()
    assert function.status == "failed"
    assert function.error == f"Chart job timed out after {settings.CHARTS_SOFT_TIME_LIMIT:g} s."


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_crash_ends_the_row_failed(make_function, monkeypatch):
    function = make_function("t", status="queued")

    def crash(**kwargs):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr("apps.charts.clients.dataservice_points", crash)
    tasks.function_render_task.apply(args=[function.pk])
    function.refresh_from_db()
    assert function.status == "failed"
    assert function.error == "Chart job crashed (ZeroDivisionError); see the worker log."


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_message_takes_over_a_running_row(make_function, monkeypatch):
    function = make_function("t", status="running")
    seen = []
    monkeypatch.setattr("apps.charts.services.function_render", lambda **kwargs: seen.append(kwargs))
    task = tasks.function_render_task
    for delivery_info in ({"redelivered": True}, {"redelivered": False}):
        task.push_request(retries=0, delivery_info=delivery_info)
        try:
            task.run(function.pk)
        finally:
            task.pop_request()
    assert [call["resume"] for call in seen] == [True, False]


@pytest.mark.django_db
def test_the_sweep_task_reports_its_counts(make_function):
    assert tasks.functions_sweep_task.apply().get() == {"requeued": 0, "failed": 0, "dispatched": 0, "undispatched": 0}
