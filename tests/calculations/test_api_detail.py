import json
from datetime import date

import pytest
from django.test import Client

from apps.calculations.models import CalculationRow
from apps.calculations.schemas import CalculationDetailOut
from apps.jobs.models import JobStatus
from tests.calculations.conftest import body


def url(pk) -> str:
    return f"/api/calculations/{pk}"


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING])
def test_an_unfinished_run_has_a_null_result(api_client, make_calculation, status):
    calculation = make_calculation(status=status, progress=30)
    response = api_client.get(url(calculation.pk))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert body(response) == {
        "id": calculation.pk,
        "launched_at": calculation.launched_at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "status": status.value,
        "pinned": False,
        "created_by": None,
        "error": None,
        "result": None,
    }


def test_a_finished_run_carries_every_row_of_its_result(api_client, make_finished):
    calculation = make_finished(date_start=date(2020, 1, 1), date_fin=date(2020, 12, 31), lag=1)
    document = body(api_client.get(url(calculation.pk)))
    assert document["status"] == "finished" and set(document) == {
        "id",
        "launched_at",
        "status",
        "pinned",
        "created_by",
        "error",
        "result",
    }
    result = document["result"]
    assert len(result) == 366
    assert result[0].keys() == {"date", "liquid", "oil", "water", "wct"}
    assert [row["date"] for row in result[:2]] == ["2020-01-01", "2020-01-02"]
    stored = CalculationRow.objects.filter(calculation=calculation).order_by("date")
    assert [(row["liquid"], row["oil"], row["water"], row["wct"]) for row in result] == [
        (row.liquid, row.oil, row.water, row.wct) for row in stored
    ]
    assert all(isinstance(row["liquid"], float | int) for row in result)


def test_a_finished_run_without_rows_has_an_empty_result(api_client, make_calculation):
    calculation = make_calculation(status=JobStatus.FINISHED)
    assert body(api_client.get(url(calculation.pk)))["result"] == []


def test_a_failed_run_carries_its_error_and_no_result(api_client, make_calculation):
    calculation = make_calculation(status=JobStatus.FAILED, error="The calculation failed: ValueError: x")
    document = body(api_client.get(url(calculation.pk)))
    assert document["result"] is None and document["status"] == "failed"
    assert document["error"] == "The calculation failed: ValueError: x"


def test_name_and_duration_are_added_on_request(api_client, make_finished):
    calculation = make_finished(name="Well 7", date_fin=date(2020, 1, 31))
    document = body(api_client.get(url(calculation.pk), {"fields": "name,duration"}))
    assert list(document) == [
        "id",
        "name",
        "launched_at",
        "status",
        "pinned",
        "created_by",
        "duration",
        "error",
        "result",
    ]
    assert document["name"] == "Well 7"
    assert document["duration"] == calculation.duration and document["duration"] >= 0


def test_the_result_can_be_left_out(api_client, make_finished):
    calculation = make_finished(date_fin=date(2020, 1, 31))
    document = body(api_client.get(url(calculation.pk), {"fields": "-result,summary"}))
    assert set(document) == {"id", "launched_at", "status", "pinned", "created_by", "error", "summary"}
    assert document["summary"]["rows"] == len(CalculationRow.objects.filter(calculation=calculation))
    CalculationDetailOut.model_validate(document)


def test_fields_may_be_repeated_instead_of_comma_separated(api_client, make_finished):
    calculation = make_finished(name="Well 8", date_fin=date(2020, 1, 31))
    document = body(api_client.get(url(calculation.pk), {"fields": ["name", "-result"]}))
    assert document["name"] == "Well 8" and "result" not in document


def test_one_optional_field_can_be_asked_for_alone(api_client, make_calculation):
    document = body(api_client.get(url(make_calculation(name="Solo").pk), {"fields": " name, "}))
    assert document["name"] == "Solo" and "duration" not in document


def test_duration_is_null_until_the_run_has_ended(api_client, make_calculation):
    calculation = make_calculation(status=JobStatus.RUNNING)
    assert body(api_client.get(url(calculation.pk), {"fields": "duration"}))["duration"] is None


def test_an_unknown_field_is_a_422_listing_the_allowed_ones(api_client, make_calculation):
    response = api_client.get(url(make_calculation().pk), {"fields": "name,secret,owner"})
    assert response.status_code == 422
    error = body(response)
    assert error["errors"] == [
        {
            "field": "fields",
            "rule": "allowed_values",
            "message": "Unknown field(s) owner, secret; allowed: name, duration, summary, forecast, -result.",
        }
    ]


@pytest.mark.parametrize("pk", [987654321, 0, 2**63, 10**30])
def test_an_unknown_id_is_a_404(api_client, pk, db):
    response = api_client.get(url(pk))
    assert response.status_code == 404
    assert body(response)["errors"][0]["rule"] == "not_found"


def test_an_id_that_is_not_a_number_is_a_422(api_client):
    response = api_client.get(url("seven"))
    assert response.status_code == 422 and body(response)["errors"][0]["field"] == "id"


@pytest.mark.parametrize("status", list(JobStatus))
def test_every_detail_document_matches_the_published_schema(
    api_client, make_calculation, make_finished, status
):
    calculation = (
        make_finished(date_fin=date(2020, 1, 3))
        if status == JobStatus.FINISHED
        else make_calculation(status=status, error="e")
    )
    raw = api_client.get(url(calculation.pk), {"fields": "name,duration"}).content
    CalculationDetailOut.model_validate(json.loads(raw))


def test_the_detail_requires_credentials(make_calculation):
    assert Client().get(url(make_calculation().pk)).status_code == 401
