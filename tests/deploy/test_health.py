"""`GET /healthz` against the real PostgreSQL, RabbitMQ and Redis; faults injected by
pointing a dependency at a port nothing listens on."""

import pytest
from django.db import connection
from django.test import Client, override_settings

from harness.processes import free_port
from project.settings.base import MIDDLEWARE


@pytest.mark.django_db
def test_it_reports_every_dependency_ok_without_credentials():
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "redis": "ok"},
    }
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_stays_healthy_but_reports_redis_when_redis_is_down():
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "redis": "unavailable"}


@pytest.mark.django_db
def test_it_stays_healthy_but_reports_the_broker_when_rabbitmq_is_down():
    with override_settings(CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}//"):
        response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "unavailable"


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_when_the_database_is_unreachable():
    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = free_port()
    try:
        response = Client().get("/healthz")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port

    assert response.status_code == 503
    body = response.json()
    assert body == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "broker": "ok", "redis": "ok"},
    }
    # A stranger learns which dependency is down, never the driver's error text.
    assert "refused" not in response.content.decode().lower()


@pytest.mark.django_db
def test_it_answers_head_and_refuses_writes():
    client = Client()

    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


PRODUCTION_LIKE = {
    "ALLOWED_HOSTS": ["calcboard.example.com"],
    "SECURE_SSL_REDIRECT": True,
    "SECURE_REDIRECT_EXEMPT": [r"^healthz$"],
    "MIDDLEWARE": ["project.health.HealthzMiddleware", *MIDDLEWARE],
}


@pytest.mark.django_db
def test_production_middleware_answers_the_container_probe_on_plain_http_and_a_private_host():
    with override_settings(**PRODUCTION_LIKE):
        response = Client().get("/healthz", HTTP_HOST="127.0.0.1:8000")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_production_middleware_still_refuses_unknown_hosts_and_plain_http_elsewhere():
    with override_settings(**PRODUCTION_LIKE):
        unknown_host = Client().get("/admin/login/", HTTP_HOST="127.0.0.1:8000")
        plain_http = Client().get("/admin/login/", HTTP_HOST="calcboard.example.com")

    assert unknown_host.status_code == 400
    assert plain_http.status_code == 301
    assert plain_http["Location"] == "https://calcboard.example.com/admin/login/"
