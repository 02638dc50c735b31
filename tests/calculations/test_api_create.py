import pytest
from django.test import Client

from apps.calculations.models import Calculation
from apps.jobs.models import JobStatus
from tests.calculations.conftest import body

URL = "/api/calculations"
VALID = {"date_start": "2020-01-01", "date_fin": "2020-12-31", "lag": 7}


def post(client: Client, payload, **kwargs):
    return client.post(URL, payload, content_type="application/json", **kwargs)


def test_it_creates_a_queued_run_and_answers_201_with_its_id(api_client):
    response = post(api_client, {**VALID, "name": "Well 7"})
    assert response.status_code == 201
    created = body(response)
    assert set(created) == {"id"}
    calculation = Calculation.objects.get(pk=created["id"])
    assert (calculation.name, calculation.status, calculation.lag) == ("Well 7", JobStatus.QUEUED, 7)
    assert str(calculation.date_start) == "2020-01-01" and str(calculation.date_fin) == "2020-12-31"


def test_a_run_without_a_name_gets_a_readable_one(api_client):
    created = body(post(api_client, VALID))
    assert Calculation.objects.get(pk=created["id"]).name == "2020-01-01 to 2020-12-31, every 7 days"


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"date_start": None}, "date_start", "date_format"),
        ({"date_start": "2020-1-1"}, "date_start", "date_format"),
        ({"date_start": "01.01.2020"}, "date_start", "date_format"),
        ({"date_start": "2020-01-01T00:00:00"}, "date_start", "date_format"),
        ({"date_start": 1577836800}, "date_start", "date_format"),
        ({"date_fin": "2021-02-29"}, "date_fin", "date_invalid"),
        ({"date_fin": "2020-00-10"}, "date_fin", "date_invalid"),
        ({"date_fin": "2019-12-31"}, "date_fin", "date_order"),
        ({"lag": "7"}, "lag", "int_type"),
        ({"lag": 7.5}, "lag", "int_type"),
        ({"lag": 7.0}, "lag", "int_type"),
        ({"lag": True}, "lag", "int_type"),
        ({"lag": 0}, "lag", "greater_than_equal"),
        ({"lag": -3}, "lag", "greater_than_equal"),
        ({"lag": 3651}, "lag", "less_than_equal"),
        ({"lag": 10**40}, "lag", "less_than_equal"),
        ({"date_start": "1700-01-01", "lag": 1}, "date_fin", "max_rows"),
        ({"name": "x" * 201}, "name", "string_too_long"),
        ({"name": ["a"]}, "name", "string_type"),
        ({"name": "nul\u0000byte"}, "name", "invalid_characters"),
        ({"colour": "red"}, "colour", "extra_forbidden"),
    ],
)
def test_it_rejects_invalid_input_with_a_422_naming_the_field_and_rule(api_client, change, field, rule):
    response = post(api_client, {**VALID, **change})
    assert response.status_code == 422
    error = body(response)
    assert field in error["detail"]
    assert {"field": field, "rule": rule} in [
        {"field": e["field"], "rule": e["rule"]} for e in error["errors"]
    ]
    assert all(e["message"] for e in error["errors"])
    assert not Calculation.objects.exists()


@pytest.mark.parametrize("missing", ["date_start", "date_fin", "lag"])
def test_every_input_but_the_name_is_required(api_client, missing):
    payload = {key: value for key, value in VALID.items() if key != missing}
    response = post(api_client, payload)
    assert response.status_code == 422
    assert {"field": missing, "rule": "missing"} in [
        {"field": e["field"], "rule": e["rule"]} for e in body(response)["errors"]
    ]


def test_the_row_limit_is_a_setting(api_client, settings):
    settings.CALCBOARD_MAX_RESULT_ROWS = 10
    assert post(api_client, {**VALID, "lag": 37}).status_code == 201  # 365 // 37 + 1 = 10 rows
    response = post(api_client, {**VALID, "lag": 1})
    assert response.status_code == 422 and body(response)["errors"][0]["rule"] == "max_rows"


def test_the_largest_inputs_are_accepted(api_client):
    response = post(
        api_client, {"date_start": "0001-01-01", "date_fin": "9999-12-31", "lag": 3650, "name": "n" * 200}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("content", "content_type"),
    [("not json", "application/json"), ("[1, 2]", "application/json"), ("", "application/json")],
)
def test_a_body_that_is_not_a_json_object_is_a_clear_4xx(api_client, content, content_type):
    response = api_client.post(URL, content, content_type=content_type)
    assert 400 <= response.status_code < 500
    assert body(response)["errors"]


def test_it_answers_401_without_credentials(db):
    response = post(Client(), VALID)
    assert response.status_code == 401
    assert body(response)["errors"][0]["rule"] == "authentication"
    assert not Calculation.objects.exists()
