"""End to end: the API or the admin, RabbitMQ, a real Celery worker, the real data service and
the real export server, and PostgreSQL in between."""

import itertools
import os
from contextlib import contextmanager

import pytest
from django.conf import settings

from apps.charts import services
from apps.charts.models import Function
from harness import processes
from harness.processes import TcpProxy, port_of
from project.settings.test import child_settings_env
from tests.charts.conftest import png_size, wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_created_function_ends_finished_with_a_png_of_the_requested_size(celery_worker, api_client):
    response = api_client.post(
        "/api/functions", {"expression": "t + 2/t", "dt": 1, "interval": 30}, content_type="application/json"
    )
    assert response.status_code == 201

    function = wait_for_status(response.json()["id"], {"finished", "failed"})

    assert function.status == "finished", function.error
    assert png_size(bytes(function.image)) == (settings.CHARTS_IMAGE_WIDTH, settings.CHARTS_IMAGE_HEIGHT)
    assert function.started_at <= function.processed_at
    detail = api_client.get(f"/api/functions/{function.pk}").json()
    chart = api_client.get(detail["image_url"])
    assert chart.status_code == 200 and chart.content == bytes(function.image)


def test_refresh_renders_the_rows_in_parallel_and_moves_processed_at(celery_worker, api_client):
    ids = [
        services.function_create(expression=expression, dt=1, interval=30).pk
        for expression in ("t + 2/t", "sin(t)", "cos(t) * t", "sqrt(abs(sin(t)))")
    ]
    first = {pk: wait_for_status(pk, {"finished", "failed"}) for pk in ids}
    assert {f.status for f in first.values()} == {"finished"}

    response = api_client.post("/api/functions/refresh", {"ids": ids}, content_type="application/json")
    assert response.json() == {"queued": 4, "skipped": 0}
    again = {pk: wait_for_status(pk, {"finished", "failed"}) for pk in ids}

    assert {f.status for f in again.values()} == {"finished"}
    for pk in ids:
        assert again[pk].processed_at > first[pk].processed_at
        # No assertion on image_hash: seconds later the same points can rasterise to the very
        # same PNG, and then the same content-addressed URL is right.
    # One task per row, on a worker with two processes: some renders overlapped in time.
    spans = sorted((f.started_at, f.processed_at) for f in again.values())
    assert any(later_start < earlier_end for (_, earlier_end), (later_start, _) in itertools.pairwise(spans))


def test_a_math_domain_error_ends_failed_with_the_data_service_message(celery_worker):
    function = services.function_create(expression="sqrt(-1 - abs(t))", dt=1, interval=1)
    function = wait_for_status(function.pk, {"finished", "failed"})
    assert function.status == "failed"
    assert function.error.startswith("Data service: ")
    assert function.image_hash == "" and function.processed_at is not None


@contextmanager
def charts_queue_taken_over():
    """The session's worker stops consuming the charts queue (other queues untouched) so a
    test's own worker, started with faulty settings, is the only one drawing charts."""
    from project.celery import app

    mine = [
        host
        for reply in app.control.ping(timeout=1)
        for host in reply
        if host.startswith(f"worker-{os.getpid()}@")
    ]
    app.control.cancel_consumer(settings.CHARTS_QUEUE, destination=mine, reply=True)
    try:
        yield
    finally:
        app.control.add_consumer(settings.CHARTS_QUEUE, destination=mine, reply=True)


@pytest.mark.parametrize(
    ("setting", "service"), [("EXPORT_SERVER_URL", "Export server"), ("DATASERVICE_URL", "Data service")]
)
def test_a_service_down_fails_after_retries_and_a_later_refresh_succeeds(
    celery_worker, dataservice, export_server, test_db_name, setting, service
):
    """A worker reaches the service through a proxy that is closed (connection refused),
    then opened again (the service is back)."""
    proxy = TcpProxy(
        target_port=port_of({"EXPORT_SERVER_URL": export_server, "DATASERVICE_URL": dataservice}[setting])
    )
    with charts_queue_taken_over():
        faulty = processes.start_worker(
            test_db_name,
            name="charts-faults",
            concurrency=1,
            extra_env=child_settings_env(**{setting: proxy.url}, CHARTS_RETRY_BACKOFF=0.5),
        )
        try:
            function = services.function_create(expression="t + 2/t", dt=1, interval=30)
            function = wait_for_status(function.pk, {"finished", "failed"})
            assert function.status == "failed"
            assert function.error == f"{service} unreachable (connection refused) after 3 attempts"
            assert function.attempts == 3  # each retry claimed the row again

            proxy.open()  # the service is back
            assert services.functions_refresh(ids=[function.pk]).queued == 1
            function = wait_for_status(function.pk, {"finished", "failed"})
            assert (function.status, function.error) == ("finished", "")
            assert png_size(bytes(function.image)) == (
                settings.CHARTS_IMAGE_WIDTH,
                settings.CHARTS_IMAGE_HEIGHT,
            )
        finally:
            faulty.stop()
            proxy.close()


def test_a_worker_killed_mid_render_has_its_chart_drawn_by_the_next_worker(
    celery_worker, export_server, test_db_name
):
    """SIGKILL while the export is in flight: the unacknowledged message comes back
    (redelivered) and the next worker takes over the row left `running`."""
    proxy = TcpProxy(target_port=port_of(export_server), hold=30)  # the export hangs
    proxy.open()
    env = child_settings_env(EXPORT_SERVER_URL=proxy.url)
    with charts_queue_taken_over():
        doomed = processes.start_worker(test_db_name, name="charts-doomed", concurrency=1, extra_env=env)
        try:
            function = services.function_create(expression="sin(t)", dt=1, interval=30)
            wait_for_status(function.pk, {"running"}, timeout=30)
            doomed.kill()
        finally:
            doomed.stop()
        assert Function.objects.get(pk=function.pk).status == "running"

        proxy.hold = 0
        successor = processes.start_worker(
            test_db_name, name="charts-successor", concurrency=1, extra_env=env
        )
        try:
            function = wait_for_status(function.pk, {"finished", "failed"})
        finally:
            successor.stop()
            proxy.close()
    assert (function.status, function.error) == ("finished", "")
    assert png_size(bytes(function.image)) == (settings.CHARTS_IMAGE_WIDTH, settings.CHARTS_IMAGE_HEIGHT)


def test_a_render_is_called_lost_only_after_its_hard_time_limit():
    # A render is silent at most one outside call, which the hard limit bounds (the beat
    # schedule itself: tests/jobs/test_beat.py).
    assert (
        services.FUNCTION_JOB.setting("STALE_AFTER")
        > services.FUNCTION_JOB.setting("TIME_LIMIT")
        > services.FUNCTION_JOB.setting("SOFT_TIME_LIMIT")
    )


def test_the_admin_flow_add_then_refresh(celery_worker, django_user_model):
    from django.test import Client

    admin = django_user_model.objects.create_user(
        username="flow", password="flow-pass-12345", is_staff=True, is_superuser=True
    )
    client = Client()
    client.force_login(admin)
    response = client.post(
        "/admin/charts/function/add/", {"preset": "sin(t)", "expression": "", "dt": "1", "interval": "2"}
    )
    assert response.status_code == 302
    function = wait_for_status(Function.objects.get().pk, {"finished", "failed"})
    assert function.status == "finished", function.error

    listed = client.get("/admin/charts/function/").content.decode()
    assert f'src="/charts/{function.pk}/{function.image_hash[:16]}.png"' in listed
    client.post("/admin/charts/function/", {"action": "refresh", "_selected_action": [function.pk]})
    refreshed = wait_for_status(function.pk, {"finished", "failed"})
    assert refreshed.processed_at > function.processed_at
