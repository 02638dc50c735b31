import csv
import io
from datetime import date

from django.test import Client

from apps.calculations.models import CalculationRow
from apps.jobs.models import JobStatus
from tests.calculations.conftest import body


def url(pk) -> str:
    return f"/api/calculations/{pk}/result.csv"


def test_a_finished_run_downloads_as_csv(api_client, make_finished):
    calculation = make_finished(date_fin=date(2020, 1, 31), lag=3)
    response = api_client.get(url(calculation.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="calculation-{calculation.pk}.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["date", "liquid", "oil", "water", "wct"]
    stored = CalculationRow.objects.filter(calculation=calculation).order_by("date")
    assert rows[1:] == [
        [row.date.isoformat(), repr(row.liquid), repr(row.oil), repr(row.water), repr(row.wct)]
        for row in stored
    ]
    assert len(rows) == 1 + 11


def test_the_csv_of_a_known_run_reads_exactly_so(api_client, make_finished):
    calculation = make_finished(date_fin=date(2020, 1, 31), lag=3)
    lines = api_client.get(url(calculation.pk)).content.decode().splitlines()
    assert lines[:4] + lines[-1:] == [
        "date,liquid,oil,water,wct",
        "2020-01-01,317.091,296.005,21.086,0.066498",
        "2020-01-04,319.507,298.527,20.98,0.065664",
        "2020-01-07,324.547,299.17,25.377,0.078192",
        "2020-01-31,321.857,298.507,23.35,0.072548",
    ]


def test_an_unfinished_run_has_nothing_to_download_yet(api_client, make_calculation):
    response = api_client.get(url(make_calculation(status=JobStatus.RUNNING).pk))
    assert response.status_code == 409
    assert body(response)["errors"][0]["rule"] == "not_finished"


def test_an_unknown_run_is_a_404(api_client, db):
    assert api_client.get(url(987654321)).status_code == 404


def test_the_download_requires_credentials(make_calculation):
    assert Client().get(url(make_calculation(status=JobStatus.FINISHED).pk)).status_code == 401
