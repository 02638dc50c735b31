"""Charts follow the one job lifecycle: publishing never waits for a dead broker, refreshes
never queue a row twice, a late attempt never overwrites a newer result, cancel, idempotency."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.charts import services
from apps.charts.models import Function
from apps.integrations import export_server as export_client
from apps.jobs import services as jobs_services
from apps.jobs.models import IdempotencyRecord
from tests.conftest import PublishedTask

BODY = {"expression": "sin(t)", "dt": 1, "interval": 3}


def body(response) -> dict:
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_a_create_and_a_refresh_of_1000_rows_try_the_broker_once(
    api_client, make_function, broker_down, monkeypatch, settings
):
    """No request waits on a dead broker more than once: the first refused connection marks it
    down, and for JOBS_PUBLISH_BACKOFF seconds the process publishes nothing more."""
    from project.celery import app

    settings.CHARTS_QUOTA_IN_FLIGHT = 1001  # the create and the refresh: quotas are tests/jobs' matter

    monkeypatch.setattr(jobs_services, "_broker_down_until", {})  # whatever earlier tests tried
    attempts: list[int] = []
    send_task = app.send_task

    def counted(name, args, **options):
        attempts.append(args[0])
        return send_task(name, args, **options)

    monkeypatch.setattr(app, "send_task", counted)
    response = api_client.post("/api/functions", BODY, content_type="application/json")
    assert response.status_code == 201
    created = body(response)["id"]
    rows = Function.objects.bulk_create(
        [Function(expression="t", dt=1, interval=1, status="finished") for _ in range(1000)]
    )
    ids = [row.pk for row in rows]

    response = api_client.post("/api/functions/refresh", {"ids": ids}, content_type="application/json")
    assert response.status_code == 200 and body(response) == {"queued": 1000, "skipped": 0}
    assert attempts == [created]  # the refresh did not try again
    # All of them wait in the outbox for the sweep, none was lost.
    assert Function.objects.filter(status="queued", dispatched_at__isnull=True).count() == 1001


@pytest.mark.django_db(transaction=True)
def test_the_sweep_publishes_what_a_dead_broker_left_in_the_outbox(
    make_function, scratch_queues, broker_down, settings
):
    function = services.function_create(expression="t", dt=1, interval=1)
    assert Function.objects.get(pk=function.pk).dispatched_at is None
    assert scratch_queues.charts.message_count() == 0
    broker_down()  # RabbitMQ is back
    settings.CHARTS_DISPATCH_GRACE = 0
    assert services.functions_sweep()["dispatched"] == 1
    # By the task's stable name.
    assert scratch_queues.charts.take() == [PublishedTask(name="charts.render", args=[function.pk])]
    assert Function.objects.get(pk=function.pk).dispatched_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_from_two_connections_queue_each_row_once(make_function, scratch_queues):
    ids = [
        row.pk
        for row in Function.objects.bulk_create(
            [Function(expression="t", dt=1, interval=1, status="finished") for _ in range(300)]
        )
    ]
    start = threading.Barrier(2)
    results, backends = [], set()

    def refresh() -> None:
        try:
            start.wait()
            results.append(services.functions_refresh(ids=ids))
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backends.add(cursor.fetchone()[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(backends) == 2  # two real PostgreSQL connections
    assert sum(result.queued for result in results) == 300
    assert sum(result.skipped for result in results) == 300
    assert sorted(scratch_queues.charts.job_ids()) == sorted(ids)  # every row published exactly once


@pytest.mark.django_db(transaction=True)
def test_a_late_render_from_an_old_attempt_does_not_overwrite_the_newer_result(
    dataservice, export_server, make_function, monkeypatch, settings, scratch_queues
):
    function = make_function("t", status="queued")
    real_export = export_client.export_server_png
    newer: dict = {}

    def export_outliving_the_sweep(**kwargs):
        png = real_export(**kwargs)
        if not newer:
            # The old attempt stalls; the sweep hands the row to a new attempt, which finishes.
            newer["hash"] = None
            Function.objects.filter(pk=function.pk).update(updated_at=timezone.now() - timedelta(hours=1))
            assert services.functions_sweep()["requeued"] == 1
            assert scratch_queues.charts.job_ids() == [function.pk]
            assert services.function_render(function_id=function.pk) is not None
            newer["hash"] = Function.objects.get(pk=function.pk).image_hash
            return b"\x89PNG stale image of the old attempt"
        return png

    monkeypatch.setattr(export_client, "export_server_png", export_outliving_the_sweep)
    assert services.function_render(function_id=function.pk) is None  # the old attempt wrote nothing
    function.refresh_from_db()
    assert (function.status, function.attempts, function.error) == ("finished", 2, "")
    assert function.image_hash == newer["hash"] and bytes(function.image).startswith(b"\x89PNG\r\n")


# --- cancel -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cancel_of_a_queued_function_answers_its_cancelled_envelope(api_client, make_function):
    function = make_function(status="queued")
    response = api_client.post(f"/api/functions/{function.pk}/cancel")
    assert response.status_code == 200
    answer = body(response)
    assert (answer["id"], answer["status"]) == (function.pk, "cancelled")
    assert answer["processed_at"] is not None
    function.refresh_from_db()
    assert function.status == "cancelled"


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["finished", "failed", "cancelled"])
def test_cancel_of_an_ended_function_is_a_409_naming_its_status(api_client, make_function, status):
    function = make_function(status=status)
    response = api_client.post(f"/api/functions/{function.pk}/cancel")
    assert response.status_code == 409
    assert (
        body(response)["detail"]
        == f"Function {function.pk} is {status}: only a queued or running job can be cancelled."
    )
    assert body(response)["errors"] == [
        {"field": "status", "rule": "job_ended", "message": body(response)["detail"]}
    ]


@pytest.mark.django_db
def test_cancel_of_an_unknown_function_is_a_404(api_client):
    assert api_client.post("/api/functions/999999/cancel").status_code == 404


@pytest.mark.django_db
def test_a_cancelled_function_can_be_refreshed_again(
    make_function, scratch_queues, django_capture_on_commit_callbacks
):
    function = make_function(status="cancelled")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.functions_refresh(ids=[function.pk]).queued == 1
    assert scratch_queues.charts.job_ids() == [function.pk]


# --- idempotency ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_idempotency_key_and_body_answer_the_first_function_and_create_nothing(
    api_client, scratch_queues
):
    headers = {"Idempotency-Key": "chart-7f3a"}
    first = api_client.post("/api/functions", BODY, content_type="application/json", headers=headers)
    again = api_client.post("/api/functions", BODY, content_type="application/json", headers=headers)
    assert first.status_code == again.status_code == 201
    assert body(first) == body(again)
    assert Function.objects.count() == 1 and IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_the_same_idempotency_key_with_another_body_is_a_422_naming_the_header(api_client, scratch_queues):
    headers = {"Idempotency-Key": "chart-7f3a"}
    api_client.post("/api/functions", BODY, content_type="application/json", headers=headers)
    other = api_client.post(
        "/api/functions", {**BODY, "dt": 2}, content_type="application/json", headers=headers
    )
    assert other.status_code == 422
    assert body(other)["errors"][0]["field"] == "Idempotency-Key"
    assert body(other)["errors"][0]["rule"] == "idempotency_key_reused"
    assert Function.objects.count() == 1
