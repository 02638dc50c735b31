"""The HTTP contract of the data service, in-process (django.test.Client on its own URLconf,
the real PostgreSQL behind it): answers, and a 4xx JSON body naming field and rule for every
kind of bad input."""

import json
import math
import time

import pytest
from django.test import Client, override_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apps.dataservice import views
from tests.dataservice.strategies import near_valid_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def dataservice_settings():
    # The body limit of project.settings.dataservice, not the web process's larger one.
    with override_settings(ROOT_URLCONF="apps.dataservice.urls", DATA_UPLOAD_MAX_MEMORY_SIZE=16 * 1024):
        yield


@pytest.fixture
def client() -> Client:
    return Client()


def post(client: Client, body, *, content_type: str = "application/json"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/points", data=data, content_type=content_type)


def only_error(response) -> dict:
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert len(body["errors"]) == 1, body
    return body["errors"][0]


def test_it_returns_the_points_of_a_preset():
    before = time.time()
    response = post(Client(), {"expression": "t + 2/t", "dt": 1, "interval": 30})
    after = time.time()

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["expression", "dt", "interval", "count", "points"]
    assert (body["expression"], body["dt"], body["interval"], body["count"]) == ("t + 2/t", 1, 30, 721)
    assert len(body["points"]) == 721
    first, last = body["points"][0][0], body["points"][-1][0]
    assert before <= last <= after  # the series ends now
    assert first == pytest.approx(last - 30 * 86400, abs=1e-5)
    for t, y in body["points"]:
        assert y == pytest.approx(t + 2 / t, rel=1e-15)


def test_it_echoes_fractional_parameters_and_accepts_a_charset(client):
    response = post(
        client,
        {"expression": "sin(t)", "dt": 0.5, "interval": 1.5},
        content_type="application/json; charset=utf-8",
    )

    body = response.json()
    assert response.status_code == 200
    assert (body["dt"], body["interval"], body["count"]) == (0.5, 1.5, 73)
    assert all(math.isclose(y, math.sin(t), rel_tol=1e-12, abs_tol=1e-12) for t, y in body["points"])


def test_it_accepts_a_trailing_slash(client):
    response = client.post(
        "/points/", data={"expression": "t", "dt": 24, "interval": 1}, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_it_reports_a_syntax_error_with_its_position(client):
    response = post(client, {"expression": "sin(t))", "dt": 1, "interval": 30})

    assert response.status_code == 422
    assert response.json()["detail"] == "expression: unexpected ')' at position 6"
    assert only_error(response) == {
        "field": "expression",
        "rule": "syntax",
        "message": "unexpected ')' at position 6",
        "position": 6,
    }


@pytest.mark.parametrize(
    ("expression", "rule", "position"),
    [
        ("t; drop table auth_user", "syntax", 1),
        ("t)--", "syntax", 1),
        ("pg_sleep(1)", "syntax", 0),
        ("'t'", "syntax", 0),
        ("", "blank", 0),
        ("t+" * 101, "max_length", 200),
        ("(" * 40 + "t" + ")" * 40, "too_deep", 32),
    ],
)
def test_it_refuses_bad_expressions(client, expression, rule, position):
    response = post(client, {"expression": expression, "dt": 1, "interval": 30})

    assert response.status_code == 422
    error = only_error(response)
    assert (error["field"], error["rule"], error["position"]) == ("expression", rule, position)


def test_it_reports_a_math_error_as_422(client):
    response = post(client, {"expression": "ln(t - t)", "dt": 1, "interval": 30})

    assert response.status_code == 422
    error = only_error(response)
    assert (error["field"], error["rule"]) == ("expression", "math_domain")
    assert error["message"].startswith("math error: cannot take logarithm of zero at t=")
    assert response.json()["detail"] == error["message"]


def test_it_refuses_too_many_points(client):
    response = post(client, {"expression": "t", "dt": 0.01, "interval": 100})

    assert response.status_code == 422
    assert only_error(response) == {
        "field": None,
        "rule": "too_many_points",
        "message": "interval 100 days at dt 0.01 hours gives 240001 points; at most 100000 are allowed "
        "(use dt >= 0.0241 hours or a shorter interval)",
    }


def test_it_accepts_exactly_the_maximum_number_of_points(client):
    response = post(client, {"expression": "t", "dt": 0.5, "interval": 2083.3125})

    assert response.status_code == 200
    assert response.json()["count"] == 100_000


@override_settings(DATASERVICE_MAX_POINTS=10)
def test_it_reads_the_point_limit_from_settings(client):
    response = post(client, {"expression": "t", "dt": 1, "interval": 1})

    assert response.status_code == 422
    assert only_error(response)["rule"] == "too_many_points"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("dt", 0, "dt must be between 0.0001 and 8760 hours, got 0"),
        ("dt", -1, "dt must be between 0.0001 and 8760 hours, got -1"),
        ("dt", 0.00001, "dt must be between 0.0001 and 8760 hours, got 0.00001"),
        ("dt", 8761, "dt must be between 0.0001 and 8760 hours, got 8761"),
        ("interval", 0, "interval must be greater than 0 and at most 3650 days, got 0"),
        ("interval", -2.5, "interval must be greater than 0 and at most 3650 days, got -2.5"),
        ("interval", 3651, "interval must be greater than 0 and at most 3650 days, got 3651"),
    ],
)
def test_it_refuses_parameters_out_of_range(client, field, value, message):
    body = {"expression": "t", "dt": 1, "interval": 1, field: value}

    response = post(client, body)

    assert response.status_code == 422
    assert only_error(response) == {"field": field, "rule": "range", "message": message}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("dt", "1", "dt must be a number (hours), not a string"),
        ("dt", True, "dt must be a number (hours), not a boolean"),
        ("interval", None, "interval must be a number (days), not null"),
        ("interval", [30], "interval must be a number (days), not an array"),
        ("expression", 42, "expression must be a string, not an object"),
        ("expression", {"op": "+"}, "expression must be a string, not an object"),
    ],
)
def test_it_refuses_values_of_the_wrong_type(client, field, value, message):
    body = {"expression": "t", "dt": 1, "interval": 1, field: value}

    response = post(client, body)

    assert response.status_code == 422
    error = only_error(response)
    assert (error["field"], error["rule"]) == (field, "type")
    if field != "expression" or isinstance(value, dict):
        assert error["message"] == message


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_it_refuses_non_finite_numbers(client, constant):
    response = post(client, f'{{"expression": "t", "dt": {constant}, "interval": 1}}')

    assert response.status_code == 422
    assert only_error(response) == {
        "field": "dt",
        "rule": "type",
        "message": "dt must be a finite number (hours)",
    }


def test_it_lists_every_missing_field(client):
    response = post(client, {})

    assert response.status_code == 422
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [
        ("expression", "required"),
        ("dt", "required"),
        ("interval", "required"),
    ]


def test_it_refuses_unknown_fields(client):
    response = post(client, {"expression": "t", "dt": 1, "interval": 1, "sql": "drop table x"})

    assert response.status_code == 422
    assert only_error(response) == {
        "field": "sql",
        "rule": "unknown_field",
        "message": "unknown field 'sql': only expression, dt and interval are accepted",
    }


def test_it_reports_several_problems_at_once(client):
    response = post(client, {"expression": "2t", "dt": 0, "interval": "x"})

    assert response.status_code == 422
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [
        ("expression", "syntax"),
        ("dt", "range"),
        ("interval", "type"),
    ]
    assert response.json()["detail"].count("; ") == 2


@pytest.mark.parametrize("body", ["[1, 2]", '"t + 2/t"', "null", "3"])
def test_it_refuses_a_body_that_is_not_an_object(client, body):
    response = post(client, body)

    assert response.status_code == 422
    assert only_error(response)["rule"] == "type"
    assert only_error(response)["field"] is None


@pytest.mark.parametrize(
    "body", [b"{", b"expression=t", b" ", b'{"expression": "t"} trailing', b"\xff\xfe\x00"]
)
def test_it_refuses_a_body_that_is_not_json(client, body):
    response = post(client, body)

    assert response.status_code == 400
    assert only_error(response)["rule"] == "json"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_it_refuses_other_content_types(client, content_type):
    response = post(client, {"expression": "t", "dt": 1, "interval": 1}, content_type=content_type)

    assert response.status_code == 415
    assert only_error(response)["rule"] == "content_type"


def test_it_refuses_an_oversized_body(client):
    body = json.dumps({"expression": "t", "dt": 1, "interval": 1, "padding": "x" * 20_000})

    response = post(client, body)

    assert response.status_code == 413
    assert only_error(response) == {
        "field": None,
        "rule": "too_large",
        "message": "The body is larger than 16384 bytes.",
    }


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_it_allows_only_post_on_points(client, method):
    response = getattr(client, method)("/points")

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert only_error(response)["rule"] == "method"


def test_it_answers_unknown_paths_with_json_404(client):
    response = client.get("/api/functions")

    assert response.status_code == 404
    assert only_error(response)["rule"] == "not_found"


def test_it_reports_health(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_it_allows_only_reads_on_health(client):
    response = client.post("/health")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_it_reports_503_on_health_when_the_database_fails(client, monkeypatch):
    monkeypatch.setattr(views, "database_ping", lambda: False)  # fault injection

    response = client.get("/health")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable"}


def test_it_answers_an_internal_error_with_json_500(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "points_select", broken)  # fault injection: a bug in the service

    response = post(Client(raise_request_exception=False), {"expression": "t", "dt": 1, "interval": 1})

    assert response.status_code == 500
    assert only_error(response) == {
        "field": None,
        "rule": "internal",
        "message": "Internal error in the data service; see its log.",
    }


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(expression=st.one_of(st.text(max_size=220), near_valid_text))
@example(expression="t + 2/t")
@example(expression="ln(t - t)")
def test_any_expression_gets_points_or_a_422_naming_the_expression(client, expression):
    response = post(client, {"expression": expression, "dt": 6, "interval": 1})

    assert response.status_code in (200, 422), response.content
    if response.status_code == 200:
        assert response.json()["count"] == len(response.json()["points"]) == 5
    else:
        (error,) = response.json()["errors"]
        assert error["field"] == "expression"
        assert error["rule"] in {"syntax", "max_length", "too_deep", "blank", "math_domain"}
