"""The wells API: create, list, detail, history (JSON and CSV), imports and their errors."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.services import api_token_create
from apps.wells.models import HistoryImport
from apps.wells.services import history_import_run, well_create
from tests.wells.conftest import csv_bytes


def body(response) -> dict:
    return json.loads(response.content)


@pytest.fixture
def wells(db):
    return [well_create(name=f"W-{i:02d}", field="North" if i % 2 else "South") for i in range(1, 24)]


def test_it_creates_a_well_answering_201_with_its_location(api_client, db):
    response = api_client.post(
        "/api/wells", {"name": "A-1", "field": "North"}, content_type="application/json"
    )
    assert response.status_code == 201
    created = body(response)
    assert response["Location"] == f"/api/wells/{created['id']}"
    assert (created["name"], created["field"], created["frequency"], created["record_count"]) == (
        "A-1",
        "North",
        "daily",
        0,
    )
    assert created["created_at"].endswith("Z") and len(created["created_at"]) == 27


def test_a_second_well_of_the_same_name_in_a_field_is_a_409(api_client, db):
    well_create(name="A-1", field="North")
    response = api_client.post(
        "/api/wells", {"name": "A-1", "field": "North"}, content_type="application/json"
    )
    assert response.status_code == 409 and body(response)["errors"][0]["field"] == "name"
    other = api_client.post("/api/wells", {"name": "A-1", "field": "South"}, content_type="application/json")
    assert other.status_code == 201


def test_the_list_pages_sorts_filters_and_counts(api_client, wells):
    page = body(api_client.get("/api/wells"))
    assert (page["count"], page["pages"], page["page"]) == (23, 3, 1)
    assert [item["name"] for item in page["results"]][:2] == ["W-01", "W-02"]
    north = body(api_client.get("/api/wells", {"field": "North", "ordering": "-name"}))
    assert north["count"] == 12 and north["results"][0]["name"] == "W-23"
    assert body(api_client.get("/api/wells", {"search": "w-1"}))["count"] == 10
    assert body(api_client.get("/api/wells", {"field": "Nowhere"}))["count"] == 0
    assert len(body(api_client.get("/api/wells", {"page_size": 100}))["results"]) == 23


def test_the_list_cursor_walks_every_well(api_client, wells):
    seen, params = [], {"page_size": 5}
    while True:
        page = body(api_client.get("/api/wells", params))
        seen += [item["name"] for item in page["results"]]
        if not page["next_cursor"]:
            break
        params = {"page_size": 5, "cursor": page["next_cursor"]}
    assert seen == sorted(well.name for well in wells)


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/wells", {"colour": "red"}, "colour"),
        ("/api/wells/1", {"x": "1"}, "x"),
        ("/api/wells/1/history", {"since": "2020-01-01"}, "since"),
    ],
)
def test_unknown_query_parameters_are_a_422_naming_them(api_client, wells, url, params, field):
    response = api_client.get(url.replace("/1", f"/{wells[0].pk}"), params)
    assert response.status_code == 422
    error = body(response)["errors"][0]
    assert (error["field"], error["rule"]) == (field, "unknown_parameter")


@pytest.mark.parametrize("well_id", [0, 999999, 2**63, 2**70])
def test_ids_out_of_range_or_unknown_are_a_404(api_client, db, well_id):
    for url in (f"/api/wells/{well_id}", f"/api/wells/{well_id}/history", f"/api/imports/{well_id}"):
        response = api_client.get(url)
        assert response.status_code == 404, (url, response.content)
        assert body(response)["errors"][0]["rule"] == "not_found"
    response = api_client.post(
        f"/api/wells/{well_id}/history", b"date,oil,water,hours_on\n", content_type="text/csv"
    )
    assert response.status_code == 404


def imported(api_client, well, content: bytes, **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = api_client.post(f"/api/wells/{well.pk}/history?{query}", content, content_type="text/csv")
    assert response.status_code == 202, response.content
    history_import_run(import_id=body(response)["id"])
    return body(api_client.get(response["Location"]))


def test_a_csv_body_is_accepted_with_202_and_imported(api_client, db):
    well = well_create(name="A-1", field="North")
    response = api_client.post(
        f"/api/wells/{well.pk}/history", csv_bytes("2020-01-01,1,1,,24"), content_type="text/csv"
    )
    assert response.status_code == 202
    accepted = body(response)
    assert (accepted["status"], accepted["well_id"], accepted["mode"], accepted["errors"]) == (
        "queued",
        well.pk,
        "append",
        [],
    )
    assert response["Location"] == f"/api/imports/{accepted['id']}"
    history_import_run(import_id=accepted["id"])
    done = body(api_client.get(response["Location"]))
    assert (done["status"], done["records"], done["progress"], done["error"]) == ("finished", 1, 100, None)


def test_a_multipart_file_with_form_fields_is_accepted(api_client, db):
    well = well_create(name="A-1", field="North")
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("export.csv", b'D,O,W,H\n07-Apr-14,"1,166",0,24\n', content_type="text/csv")
    response = api_client.post(
        f"/api/wells/{well.pk}/history",
        {"file": upload, "columns": "date:D,oil:O,water:W,hours_on:H", "date_format": "%d-%b-%y"},
    )
    assert response.status_code == 202, response.content
    history_import_run(import_id=body(response)["id"])
    done = body(api_client.get(response["Location"]))
    assert done["status"] == "finished" and done["file_name"] == "export.csv"
    history = body(api_client.get(f"/api/wells/{well.pk}/history"))
    assert history["results"][0]["date"] == "2014-04-07" and history["results"][0]["oil"] == 1166


def test_an_import_with_errors_answers_them_on_the_import(api_client, db):
    well = well_create(name="A-1", field="North")
    done = imported(api_client, well, csv_bytes("2020-01-01,-3.2,1,,24"))
    assert done["status"] == "failed" and done["error_count"] == 1
    assert done["errors"] == [
        {
            "line": 2,
            "column": "oil",
            "rule": "min",
            "value": "-3.2",
            "message": "line 2, column oil: must be >= 0, got -3.2",
        }
    ]


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"mode": "merge"}, "mode", "literal_error"),
        ({"columns": "date"}, "columns", "format"),
        ({"columns": "colour:X"}, "columns", "allowed_values"),
        ({"date_format": "%H"}, "date_format", "format"),
        ({"delimiter": ";"}, "delimiter", "unknown_parameter"),
    ],
)
def test_bad_import_parameters_are_a_422_and_nothing_is_queued(api_client, db, params, field, rule):
    well = well_create(name="A-1", field="North")
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = api_client.post(
        f"/api/wells/{well.pk}/history?{query}", csv_bytes("2020-01-01,1,1,,24"), content_type="text/csv"
    )
    assert response.status_code == 422, response.content
    assert (body(response)["errors"][0]["field"], body(response)["errors"][0]["rule"]) == (field, rule)
    assert not HistoryImport.objects.exists()


def test_an_empty_body_or_another_content_type_is_refused(api_client, db):
    well = well_create(name="A-1", field="North")
    empty = api_client.post(f"/api/wells/{well.pk}/history", b"", content_type="text/csv")
    assert empty.status_code == 422 and body(empty)["errors"][0]["rule"] == "empty", empty.content
    as_json = api_client.post(f"/api/wells/{well.pk}/history", {"a": 1}, content_type="application/json")
    assert as_json.status_code == 415 and body(as_json)["errors"][0]["rule"] == "content_type"
    assert not HistoryImport.objects.exists()


def test_a_body_over_the_limit_is_a_413(api_client, db, settings):
    settings.WELLS_IMPORT_MAX_BYTES = 100
    well = well_create(name="A-1", field="North")
    response = api_client.post(f"/api/wells/{well.pk}/history", b"x" * 101, content_type="text/csv")
    assert response.status_code == 413 and body(response)["errors"][0]["rule"] == "too_large"


def test_a_second_import_into_a_well_with_one_in_flight_is_a_409(api_client, db):
    well = well_create(name="A-1", field="North")
    url = f"/api/wells/{well.pk}/history"
    first = api_client.post(url, csv_bytes("2020-01-01,1,1,,24"), content_type="text/csv")
    second = api_client.post(url, csv_bytes("2020-01-02,1,1,,24"), content_type="text/csv")
    assert (first.status_code, second.status_code) == (202, 409)
    assert body(second)["errors"][0]["rule"] == "import_in_flight"
    api_client.post(f"/api/imports/{body(first)['id']}/cancel")
    assert api_client.post(url, csv_bytes("2020-01-02,1,1,,24"), content_type="text/csv").status_code == 202


def test_a_multi_well_import_creates_the_wells_of_the_field(api_client, db):
    content = csv_bytes(
        "P-1,2020-01-01,1,0,,24", "P-2,2020-01-01,2,0,,24", header="well,date,oil,water,gas,hours_on\n"
    )
    response = api_client.post("/api/wells/import?field=East", content, content_type="text/csv")
    assert response.status_code == 202, response.content
    history_import_run(import_id=body(response)["id"])
    assert body(api_client.get(response["Location"]))["wells_created"] == 2
    assert body(api_client.get("/api/wells", {"field": "East"}))["count"] == 2
    missing = api_client.post("/api/wells/import", content, content_type="text/csv")
    assert missing.status_code == 422 and body(missing)["errors"][0]["field"] == "field"


DAILY = [f"2020-01-{day:02d},{100 - day},{day},{1000},{24 if day != 3 else 0}" for day in range(1, 32)] + [
    "2020-02-01,50,50,500,12"
]


def test_the_history_carries_derived_rates_water_cut_and_cumulatives(api_client, db):
    well = well_create(name="A-1", field="North")
    imported(api_client, well, csv_bytes(*DAILY))
    history = body(api_client.get(f"/api/wells/{well.pk}/history"))
    assert (history["count"], history["frequency"], history["resample"]) == (32, "daily", None)
    first, shut_in, partial = history["results"][0], history["results"][2], history["results"][31]
    assert first == {
        "date": "2020-01-01",
        "oil": 99,
        "water": 1,
        "gas": 1000,
        "hours_on": 24,
        "oil_rate": 99,
        "water_rate": 1,
        "liquid_rate": 100,
        "gas_rate": 1000,
        "oil_rate_calendar": 99,
        "water_rate_calendar": 1,
        "liquid_rate_calendar": 100,
        "water_cut": 0.01,
        "cumulative_oil": 99,
        "cumulative_water": 1,
        "cumulative_gas": 1000,
    }
    assert shut_in["oil_rate"] is None and shut_in["oil_rate_calendar"] == 97
    assert (partial["oil_rate"], partial["oil_rate_calendar"], partial["water_cut"]) == (100, 50, 0.5)


def test_the_history_narrows_to_a_range_keeping_cumulatives_from_the_start(api_client, db):
    well = well_create(name="A-1", field="North")
    imported(api_client, well, csv_bytes(*DAILY))
    history = body(
        api_client.get(f"/api/wells/{well.pk}/history", {"from": "2020-01-31", "to": "2020-02-01"})
    )
    assert [row["date"] for row in history["results"]] == ["2020-01-31", "2020-02-01"]
    assert history["results"][-1]["cumulative_oil"] == sum(100 - day for day in range(1, 32)) + 50


def test_the_history_resamples_to_months_in_postgresql(api_client, db):
    well = well_create(name="A-1", field="North")
    imported(api_client, well, csv_bytes(*DAILY))
    history = body(api_client.get(f"/api/wells/{well.pk}/history", {"resample": "month"}))
    january = history["results"][0]
    oil = sum(100 - day for day in range(1, 32))
    assert (january["date"], january["oil"], january["days_on"]) == ("2020-01-01", oil, 30)
    assert january["oil_rate"] == pytest.approx(oil / 30, rel=1e-6)
    assert january["oil_rate_calendar"] == pytest.approx(oil / 31, rel=1e-6)
    assert history["results"][1]["days_on"] == 0.5


def test_the_last_partial_month_is_rated_over_the_days_it_reports(api_client, db):
    well = well_create(name="A-1", field="North")
    imported(api_client, well, csv_bytes(*DAILY))  # January, then February's first day only
    february = body(api_client.get(f"/api/wells/{well.pk}/history", {"resample": "month"}))["results"][1]
    assert (february["date"], february["oil"]) == ("2020-02-01", 50)
    assert february["oil_rate_calendar"] == 50  # one day reported, not 50 / 29


def test_the_history_as_csv_has_the_same_columns(api_client, db):
    well = well_create(name="A-1", field="North")
    imported(api_client, well, csv_bytes(*DAILY))
    response = api_client.get(f"/api/wells/{well.pk}/history", {"format": "csv", "to": "2020-01-01"})
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("date,oil,water,gas,hours_on,oil_rate,") and lines[1].startswith(
        "2020-01-01,99,1,1000,24,99,"
    )


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"from": "2020-13-01"}, "from", "date_invalid"),
        ({"from": "2020-02-01", "to": "2020-01-01"}, "to", "date_order"),
        ({"resample": "week"}, "resample", "literal_error"),
    ],
)
def test_bad_history_parameters_are_a_422(api_client, db, params, field, rule):
    well = well_create(name="A-1", field="North")
    response = api_client.get(f"/api/wells/{well.pk}/history", params)
    assert response.status_code == 422
    assert (body(response)["errors"][0]["field"], body(response)["errors"][0]["rule"]) == (field, rule)


def test_reading_needs_view_well_and_importing_change_well(db):
    reader = get_user_model().objects.create_user(username="reader")
    from django.contrib.auth.models import Permission

    reader.user_permissions.add(Permission.objects.get(codename="view_well"))
    _, raw = api_token_create(user=reader, name="t")
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    well = well_create(name="A-1", field="North")
    assert client.get("/api/wells").status_code == 200
    assert client.get(f"/api/wells/{well.pk}/history").status_code == 200
    assert (
        client.post("/api/wells", {"name": "B", "field": "N"}, content_type="application/json").status_code
        == 403
    )
    refused = client.post(
        f"/api/wells/{well.pk}/history", csv_bytes("2020-01-01,1,1,,24"), content_type="text/csv"
    )
    assert refused.status_code == 403 and "wells.change_well" in body(refused)["detail"]
