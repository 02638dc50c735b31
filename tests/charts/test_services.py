"""Services of the chart job, in-process against the real data service and export server."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.charts import services
from apps.charts.chart_options import function_chart_options
from apps.charts.models import Function
from apps.core.errors import DomainError, NotFoundError
from harness.processes import free_port
from tests.charts.conftest import png_size
from tests.conftest import ScratchQueue


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


@pytest.fixture
def published(scratch_queues) -> ScratchQueue:
    """Charts are published to the real broker, on a queue no worker consumes."""
    return scratch_queues.charts


# --- validation --------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_refuses_a_malformed_expression_with_its_position():
    with pytest.raises(DomainError) as caught:
        services.function_create(expression="sin(t))", dt=1, interval=30)
    [error] = caught.value.errors
    assert (error.field, error.rule) == ("expression", "syntax")
    assert "position 6" in error.message
    assert not Function.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "expression", ["t; DROP TABLE charts_function", "t' OR '1'='1", "pg_sleep(10)", "t -- x"]
)
def test_it_refuses_injection_attempts(expression):
    with pytest.raises(DomainError) as caught:
        services.function_create(expression=expression, dt=1, interval=30)
    assert caught.value.errors[0].field == "expression"
    assert not Function.objects.exists()


@pytest.mark.django_db
def test_it_refuses_more_points_than_the_data_service_allows():
    with pytest.raises(DomainError) as caught:
        services.function_create(expression="t", dt=0.01, interval=3650)
    assert [e.rule for e in caught.value.errors] == ["too_many_points"]
    assert "at most 100000" in caught.value.errors[0].message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "dt", "interval"),
    [
        ("dt", 0, 30),
        ("dt", -1, 30),
        ("interval", 1, 0),
        ("dt", float("nan"), 30),
        ("interval", 1, float("inf")),
    ],
)
def test_it_refuses_out_of_range_parameters(field, dt, interval):
    with pytest.raises(DomainError) as caught:
        services.function_create(expression="t", dt=dt, interval=interval)
    assert [e.field for e in caught.value.errors] == [field]


# --- create and refresh --------------------------------------------------------------------


@pytest.mark.django_db
def test_it_creates_a_queued_row_and_enqueues_one_task_after_commit(
    django_capture_on_commit_callbacks, published
):
    with django_capture_on_commit_callbacks(execute=True):
        function = services.function_create(expression="  sin(t) ", dt=0.5, interval=2)
        assert published.message_count() == 0  # nothing leaves before the commit
    function.refresh_from_db()
    assert (function.expression, function.status, function.dt, function.interval) == (
        "sin(t)",
        "queued",
        0.5,
        2,
    )
    assert function.queued_at is not None and function.processed_at is None
    assert published.job_ids() == [function.pk]


@pytest.mark.django_db
def test_refresh_queues_only_rows_not_in_flight_in_one_update(
    make_function, django_capture_on_commit_callbacks, published
):
    finished, failed = make_function(status="finished"), make_function(status="failed", error="x")
    queued, running = make_function(status="queued"), make_function(status="running")
    ids = [finished.pk, failed.pk, queued.pk, running.pk]

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        result = services.functions_refresh(ids=ids)

    assert result == services.RefreshResult(queued=2, skipped=2)
    assert sorted(published.job_ids()) == sorted([finished.pk, failed.pk])
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    # One UPDATE decides and queues; after commit one more stamps the outbox marker of all sent.
    assert len(updates) == 2 and "RETURNING" in updates[0] and '"dispatched_at"' in updates[1]
    statuses = dict(Function.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert set(statuses.values()) == {"queued", "running"}


@pytest.mark.django_db
def test_a_second_refresh_of_the_same_rows_queues_nothing(
    make_function, django_capture_on_commit_callbacks, published
):
    rows = [make_function(status="finished") for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        first = services.functions_refresh(ids=[r.pk for r in rows])
        second = services.functions_refresh(ids=[r.pk for r in rows])
    assert (first.queued, second.queued, second.skipped) == (3, 0, 3)
    assert sorted(published.job_ids()) == sorted(r.pk for r in rows)


@pytest.mark.django_db
def test_refresh_of_an_unknown_id_is_refused_and_queues_nothing(make_function):
    row = make_function(status="finished")
    with pytest.raises(NotFoundError, match="999999"):
        services.functions_refresh(ids=[row.pk, 999999])
    row.refresh_from_db()
    assert row.status == "finished"
    assert services.functions_refresh(ids=[]) == services.RefreshResult(queued=0, skipped=0)


# --- the chart job, in-process -------------------------------------------------------------


def test_chart_options_put_milliseconds_on_a_datetime_axis():
    options = function_chart_options(
        expression="t + 2/t", dt=1, interval=30, points=[[1_700_000_000, 1.5]], width=1000, height=500
    )
    assert options["xAxis"]["type"] == "datetime"
    assert options["series"][0]["data"] == [[1_700_000_000_000, 1.5]]
    assert options["title"]["text"] == "t + 2/t"
    assert (options["xAxis"]["title"]["text"], options["yAxis"]["title"]["text"]) == ("t", "y")
    assert (options["chart"]["type"], options["chart"]["width"], options["chart"]["height"]) == (
        "line",
        1000,
        500,
    )
    json.dumps(options, allow_nan=False)  # what the export server receives is plain JSON


@pytest.mark.django_db(transaction=True)
def test_render_stores_a_png_of_the_configured_size(dataservice, export_server, make_function, settings):
    settings.CHARTS_IMAGE_WIDTH, settings.CHARTS_IMAGE_HEIGHT = 800, 400
    function = make_function("t + 2/t", status="queued", dt=1, interval=30)
    before = timezone.now()

    result = services.function_render(function_id=function.pk)

    function = Function.objects.get(pk=function.pk)
    assert result.status == function.status == "finished"
    assert png_size(bytes(function.image)) == (800, 400)
    assert function.error == "" and function.processed_at >= function.started_at >= before
    assert len(function.image_hash) == 64


@pytest.mark.django_db(transaction=True)
def test_render_skips_a_row_that_is_not_queued(make_function):
    running = make_function(status="running")
    assert services.function_render(function_id=running.pk) is None
    running.refresh_from_db()
    assert running.status == "running"


@pytest.mark.django_db(transaction=True)
def test_a_math_error_ends_failed_with_the_data_service_message(dataservice, export_server, make_function):
    function = make_function("ln(-1 - t^2)", status="queued")
    services.function_render(function_id=function.pk)
    function.refresh_from_db()
    assert function.status == "failed"
    assert function.error.startswith("Data service: ")
    assert "logarithm" in function.error.lower() or "ln" in function.error.lower()
    assert function.processed_at is not None


@pytest.mark.django_db(transaction=True)
def test_division_by_zero_names_the_service(dataservice, export_server, make_function):
    function = make_function("1/(t - t)", status="queued")
    services.function_render(function_id=function.pk)
    function.refresh_from_db()
    assert function.status == "failed"
    assert function.error.startswith("Data service: ") and "zero" in function.error.lower()


@pytest.mark.django_db(transaction=True)
def test_data_service_down_fails_with_its_name_and_a_later_refresh_succeeds(
    dataservice, export_server, make_function, settings, published
):
    function = make_function("sin(t)", status="queued", dt=2, interval=10)
    settings.DATASERVICE_URL = closed_port_url()
    settings.CHARTS_MAX_ATTEMPTS = 1

    services.function_render(function_id=function.pk)
    function.refresh_from_db()
    assert function.status == "failed"
    assert function.error == "Data service unreachable (connection refused) after 1 attempt"

    settings.DATASERVICE_URL = dataservice  # the service is back
    assert services.functions_refresh(ids=[function.pk]).queued == 1
    assert published.job_ids() == [function.pk]
    services.function_render(function_id=function.pk)  # as the worker would
    function.refresh_from_db()
    assert (function.status, function.error) == ("finished", "")
    assert png_size(bytes(function.image)) == (1000, 500)


@pytest.mark.django_db(transaction=True)
def test_export_server_down_fails_with_its_name(dataservice, make_function, settings):
    settings.CHARTS_MAX_ATTEMPTS = 3
    function = make_function("t", status="queued", attempts=2)  # this is the last attempt
    settings.EXPORT_SERVER_URL = closed_port_url()
    services.function_render(function_id=function.pk)
    function.refresh_from_db()
    assert (function.status, function.error) == (
        "failed",
        "Export server unreachable (connection refused) after 3 attempts",
    )


@pytest.mark.django_db(transaction=True)
def test_a_transient_failure_before_the_last_attempt_is_raised_for_a_retry(
    dataservice, make_function, settings
):
    from apps.integrations.transport import ServiceError

    settings.CHARTS_MAX_ATTEMPTS = 2
    function = make_function("t", status="queued")
    settings.EXPORT_SERVER_URL = closed_port_url()
    with pytest.raises(ServiceError) as caught:
        services.function_render(function_id=function.pk)
    assert caught.value.transient
    function.refresh_from_db()
    assert (function.status, function.attempts) == ("running", 1)  # the retry takes it over (resume)
    settings.EXPORT_SERVER_URL = closed_port_url()
    services.function_render(function_id=function.pk, resume=True)
    function.refresh_from_db()
    assert function.error == "Export server unreachable (connection refused) after 2 attempts"


@pytest.mark.django_db(transaction=True)
def test_an_export_render_timeout_is_retried_not_failed(
    dataservice, export_server_timing_out, make_function, settings
):
    from apps.integrations.transport import ServiceError

    settings.CHARTS_MAX_ATTEMPTS = 2
    function = make_function("t", status="queued")
    settings.EXPORT_SERVER_URL = export_server_timing_out
    with pytest.raises(ServiceError) as caught:
        services.function_render(function_id=function.pk)
    assert caught.value.transient and "Rasterization timeout" in str(caught.value)
    function.refresh_from_db()
    assert (function.status, function.attempts) == ("running", 1)  # the retry takes it over


# --- sweep ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sweep_requeues_rows_whose_worker_went_silent_and_fails_them_after_their_attempts(
    make_function, settings, django_capture_on_commit_callbacks, published
):
    settings.CHARTS_STALE_AFTER, settings.CHARTS_MAX_ATTEMPTS = 300, 3
    lost = make_function(status="running", attempts=1)
    exhausted = make_function(status="running", attempts=3)
    busy = make_function(status="running", attempts=1)
    Function.objects.filter(pk__in=[lost.pk, exhausted.pk]).update(
        updated_at=timezone.now() - timedelta(minutes=10)
    )

    with django_capture_on_commit_callbacks(execute=True):
        result = services.functions_sweep()

    assert result == {"requeued": 1, "failed": 1, "dispatched": 1, "undispatched": 0}
    lost.refresh_from_db(), exhausted.refresh_from_db(), busy.refresh_from_db()
    assert (lost.status, lost.error) == ("queued", "Requeued: no progress for over 300 s on attempt 1.")
    assert published.job_ids() == [lost.pk] and lost.dispatched_at is not None
    assert exhausted.status == "failed" and exhausted.error.startswith("Stopped after 3 attempts")
    assert exhausted.processed_at is not None
    assert busy.status == "running"


@pytest.mark.django_db
def test_sweep_republishes_rows_whose_message_was_lost(make_function, settings, published):
    settings.CHARTS_QUEUED_STALE_AFTER = 3600
    now = timezone.now()
    stale = make_function(status="queued", dispatched_at=now - timedelta(hours=2))
    make_function(status="queued", dispatched_at=now)  # published just now: left alone

    assert services.functions_sweep()["dispatched"] == 1
    assert published.job_ids() == [stale.pk]
    stale.refresh_from_db()
    assert stale.status == "queued" and stale.dispatched_at >= now  # waits a full period before the next try


@pytest.mark.django_db(transaction=True)
def test_a_row_deleted_while_its_chart_is_drawn_is_left_alone(
    dataservice, export_server, make_function, monkeypatch
):
    from apps.integrations import export_server as export_client

    function = make_function("t", status="queued")
    real_export = export_client.export_server_png

    def export_then_delete(**kwargs):
        png = real_export(**kwargs)
        Function.objects.filter(pk=function.pk).delete()
        return png

    monkeypatch.setattr(export_client, "export_server_png", export_then_delete)
    assert services.function_render(function_id=function.pk) is None
    assert not Function.objects.exists()
