"""`GET /readyz` against the real PostgreSQL, RabbitMQ, Redis, data service, export server and
a real worker; each dependency stopped in turn by pointing at a port (or a queue) where nothing
answers, as tests/deploy/test_health.py does for /healthz."""

import pytest
from django.db import connection
from django.test import Client, override_settings

from harness.processes import free_port
from project.settings.base import MIDDLEWARE

DEPENDENCIES = {"database", "broker", "redis", "dataservice", "export_server", "worker"}


@pytest.fixture(autouse=True)
def everything_running(celery_worker, dataservice, export_server) -> None:
    """The real services of this run: a stopped one is injected per test."""


def ready() -> tuple[int, dict]:
    response = Client().get("/readyz")
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json()


def assert_only_failing(status: int, body: dict, name: str) -> None:
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["failing"] == [name]
    assert {check: result["status"] for check, result in body["checks"].items()} == {
        check: ("unavailable" if check == name else "ok") for check in DEPENDENCIES
    }


@pytest.mark.django_db
def test_it_is_ready_with_every_dependency_up_and_times_each():
    status, body = ready()

    assert status == 200
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == DEPENDENCIES
    for result in body["checks"].values():
        assert result["status"] == "ok"
        assert isinstance(result["ms"], float) and result["ms"] >= 0


@pytest.mark.django_db(transaction=True)
def test_it_names_the_database_when_postgresql_is_down():
    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = free_port()
    try:
        status, body = ready()
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port

    assert_only_failing(status, body, "database")


@pytest.mark.django_db
def test_it_names_the_broker_and_the_worker_when_rabbitmq_is_down():
    with override_settings(CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}//"):
        status, body = ready()

    assert status == 503
    # Without the broker no worker can be reached either: both are named.
    assert body["failing"] == ["broker", "worker"]


@pytest.mark.django_db
def test_it_names_redis_when_redis_is_down():
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        assert_only_failing(*ready(), "redis")


@pytest.mark.django_db
def test_it_names_the_data_service_when_it_is_down():
    with override_settings(DATASERVICE_URL=f"http://127.0.0.1:{free_port()}"):
        assert_only_failing(*ready(), "dataservice")


@pytest.mark.django_db
def test_it_names_the_export_server_when_it_is_down():
    with override_settings(EXPORT_SERVER_URL=f"http://127.0.0.1:{free_port()}"):
        assert_only_failing(*ready(), "export_server")


@pytest.mark.django_db
def test_it_names_the_worker_when_no_worker_consumes_a_job_queue(settings):
    unconsumed = f"{settings.CALCULATIONS_QUEUE}-nobody"
    from project.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(queue=unconsumed, durable=True, auto_delete=False)
    try:
        with override_settings(CALCULATIONS_QUEUE=unconsumed):
            assert_only_failing(*ready(), "worker")
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue=unconsumed)


@pytest.mark.django_db
def test_a_queue_no_worker_ever_declared_is_a_missing_worker(settings):
    with override_settings(CHARTS_QUEUE=f"{settings.CHARTS_QUEUE}-never"):
        assert_only_failing(*ready(), "worker")


@pytest.mark.django_db
def test_production_answers_readyz_on_plain_http_and_a_private_host():
    production_like = {
        "ALLOWED_HOSTS": ["calcboard.example.com"],
        "SECURE_SSL_REDIRECT": True,
        "MIDDLEWARE": ["project.health.HealthzMiddleware", *MIDDLEWARE],
    }
    with override_settings(**production_like):
        ready_answer = Client().get("/readyz", HTTP_HOST="web:8000")
        metrics_answer = Client().get("/metrics", HTTP_HOST="web:8000")

    assert ready_answer.status_code == 200 and ready_answer.json()["status"] == "ok"
    assert metrics_answer.status_code == 200 and b"calcboard_jobs" in metrics_answer.content
