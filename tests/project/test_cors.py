"""Cross-origin calls (django-cors-headers): off by default, opened to the origins listed in
DJANGO_CORS_ALLOWED_ORIGINS, for the API and the chart images, never with cookies."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
APP = "https://app.example.com"


def preflight(client: Client, url: str, *, origin: str = APP):
    return client.options(
        url,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )


def test_no_origin_is_allowed_by_default(api_client):
    response = api_client.get("/api/functions", HTTP_ORIGIN=APP)
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in preflight(Client(), "/api/calculations")


@pytest.fixture
def app_allowed(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]


def test_a_listed_origin_may_send_the_apis_headers(app_allowed, db):
    response = preflight(Client(), "/api/calculations")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    allowed = {name.strip() for name in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "if-none-match"} <= allowed
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response  # bearer tokens, never cookies


def test_a_listed_origin_reads_the_answer_and_its_headers(app_allowed, api_client):
    response = api_client.post(
        "/api/calculations",
        {"date_start": "2024-01-01", "date_fin": "2024-01-31", "lag": 7},
        content_type="application/json",
        HTTP_ORIGIN=APP,
    )
    assert response.status_code == 201 and response["Access-Control-Allow-Origin"] == APP
    exposed = {name.strip() for name in response["Access-Control-Expose-Headers"].split(",")}
    assert {"Location", "ETag", "WWW-Authenticate"} <= exposed


def test_errors_reach_the_listed_origin_too(app_allowed, db):
    response = Client().get("/api/functions", HTTP_ORIGIN=APP)
    assert response.status_code == 401 and response["Access-Control-Allow-Origin"] == APP


def test_another_origin_stays_out(app_allowed, api_client):
    response = api_client.get("/api/functions", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in response


def test_the_admin_is_never_shared(app_allowed, db):
    assert "Access-Control-Allow-Origin" not in Client().get("/admin/login/", HTTP_ORIGIN=APP)


def test_the_origins_come_from_one_environment_variable():
    code = (
        "import json, django; from django.conf import settings as s; django.setup(); "
        "print(json.dumps(s.CORS_ALLOWED_ORIGINS))"
    )

    def origins(**env: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", code],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings.test", **env},
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    assert origins(DJANGO_CORS_ALLOWED_ORIGINS="") == []
    listed = origins(DJANGO_CORS_ALLOWED_ORIGINS=f"{APP}, https://staging.example.com")
    assert listed == [APP, "https://staging.example.com"]
