"""`GET /api/calculations/{id}/chart.png|svg`: drawn by the real export server on the first
request, stored, then served from the database with an ETag; 409 until the run finished."""

import json
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from apps.calculations.models import CalculationChart
from apps.jobs.models import JobStatus
from harness.processes import ScriptedServer, free_port
from tests.calculations.conftest import body
from tests.charts.conftest import png_size

SVG = "{http://www.w3.org/2000/svg}"


def chart_url(pk: int, image_type: str, **size) -> str:
    query = "&".join(f"{key}={value}" for key, value in size.items())
    return f"/api/calculations/{pk}/chart.{image_type}" + (f"?{query}" if query else "")


@pytest.fixture
def finished(make_finished):
    return make_finished(date_start=date(2020, 1, 1), date_fin=date(2022, 12, 31), lag=7, name="Well 7 <base case>")


def svg_root(content: bytes) -> ET.Element:
    root = ET.fromstring(content)  # noqa: S314 - our own export server's SVG
    assert root.tag == f"{SVG}svg"
    return root


def svg_text(root: ET.Element) -> str:
    return " ".join(text for text in root.itertext())


def test_the_png_has_the_requested_size_and_is_stored(api_client, export_server, finished):
    response = api_client.get(chart_url(finished.pk, "png", width=900, height=450))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/png"
    assert png_size(response.content) == (900, 450)
    stored = CalculationChart.objects.get(calculation=finished, format="png", width=900, height=450)
    assert bytes(stored.image) == response.content
    assert response["ETag"] == f'"{stored.image_hash}"'
    assert stored.drawn_from == finished.finished_at


def test_the_svg_has_the_requested_size_the_run_name_as_title_and_every_series(api_client, export_server, finished):
    response = api_client.get(chart_url(finished.pk, "svg", width=1000, height=520))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/svg+xml"
    assert "script-src" not in response["Content-Security-Policy"]
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    root = svg_root(response.content)
    assert (root.get("width"), root.get("height")) == ("1000", "520")
    text = svg_text(root)
    assert "Well 7 <base case>" in text  # the title, as text
    for label in ("Liquid, m³/day", "Oil, m³/day", "Water, m³/day", "Water cut, %"):
        assert label in text
    series = root.findall(f".//{SVG}g[@class]")
    drawn = [group for group in series if "highcharts-series " in group.get("class") + " "]
    assert len(drawn) == 4


def test_the_default_size_is_1200_by_600(api_client, export_server, finished):
    response = api_client.get(chart_url(finished.pk, "png"))
    assert png_size(response.content) == (1200, 600)


def test_a_stored_image_is_served_without_the_export_server_and_revalidates(
    api_client, export_server, finished, settings
):
    first = api_client.get(chart_url(finished.pk, "png", width=640, height=320))
    assert first.status_code == 200
    settings.EXPORT_SERVER_URL = f"http://127.0.0.1:{free_port()}"  # down from now on

    again = api_client.get(chart_url(finished.pk, "png", width=640, height=320))
    assert again.status_code == 200 and again.content == first.content
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == "private, no-cache"

    fresh = api_client.get(chart_url(finished.pk, "png", width=640, height=320), headers={"If-None-Match": first["ETag"]})
    assert fresh.status_code == 304 and fresh.content == b"" and fresh["ETag"] == first["ETag"]
    other = api_client.get(
        chart_url(finished.pk, "png", width=640, height=320), headers={"If-None-Match": '"stale", "other"'}
    )
    assert other.status_code == 200 and other.content == first.content
    assert CalculationChart.objects.filter(calculation=finished).count() == 1


def test_every_type_and_size_is_its_own_image(api_client, export_server, finished):
    for image_type, width, height in (("png", 600, 300), ("png", 800, 300), ("svg", 600, 300)):
        assert api_client.get(chart_url(finished.pk, image_type, width=width, height=height)).status_code == 200
    assert CalculationChart.objects.filter(calculation=finished).count() == 3


def test_a_run_that_finished_again_gets_a_new_image(api_client, export_server, finished):
    first = api_client.get(chart_url(finished.pk, "png", width=600, height=300))
    later = finished.finished_at + timedelta(minutes=5)
    type(finished).objects.filter(pk=finished.pk).update(finished_at=later)
    CalculationChart.objects.filter(calculation=finished).update(image=b"old", image_hash="0" * 64)

    again = api_client.get(chart_url(finished.pk, "png", width=600, height=300), headers={"If-None-Match": '"' + "0" * 64 + '"'})
    assert again.status_code == 200 and png_size(again.content) == (600, 300)
    assert again["ETag"] == first["ETag"]  # same rows, same image
    stored = CalculationChart.objects.get(calculation=finished)
    assert stored.drawn_from == later and bytes(stored.image) == again.content


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED])
@pytest.mark.parametrize("image_type", ["png", "svg"])
def test_an_unfinished_run_has_no_chart_yet(api_client, make_calculation, status, image_type):
    calculation = make_calculation(status=status)
    response = api_client.get(chart_url(calculation.pk, image_type))
    assert response.status_code == 409
    assert body(response) == {
        "detail": (
                    f"Calculation {calculation.pk} is {status.value}: "
                    "its chart exists once it has finished."
                ),
        "errors": [
            {
                "field": None,
                "rule": "not_finished",
                "message": (
                    f"Calculation {calculation.pk} is {status.value}: "
                    "its chart exists once it has finished."
                ),
            }
        ],
    }
    assert not CalculationChart.objects.exists()


@pytest.mark.parametrize("pk", [999_999_999, 2**63])
def test_an_unknown_run_is_a_404(api_client, db, pk):
    response = api_client.get(chart_url(pk, "png"))
    assert response.status_code == 404
    assert body(response)["errors"][0]["rule"] == "not_found"


@pytest.mark.parametrize(
    ("size", "field", "rule"),
    [
        ({"width": 10}, "width", "greater_than_equal"),
        ({"height": 99_999}, "height", "less_than_equal"),
        ({"width": "wide"}, "width", "int_parsing"),
    ],
)
def test_a_size_out_of_range_is_a_422_naming_the_field(api_client, finished, size, field, rule):
    response = api_client.get(chart_url(finished.pk, "png", **size))
    assert response.status_code == 422
    assert body(response)["errors"][0] | {"message": None} == {"field": field, "rule": rule, "message": None}


def test_the_export_server_down_is_a_503_and_nothing_is_stored(api_client, finished, settings):
    settings.EXPORT_SERVER_URL = f"http://127.0.0.1:{free_port()}"
    response = api_client.get(chart_url(finished.pk, "png"))
    assert response.status_code == 503
    error = body(response)["errors"][0]
    assert error["rule"] == "unavailable" and "Export server unreachable (connection refused)" in error["message"]
    assert not CalculationChart.objects.exists()


def test_an_export_server_refusal_is_a_502_with_its_words(api_client, finished, settings):
    answer = {"statusCode": 400, "message": "Bad options", "errorCode": "EXPORT_INVALID_REQUEST"}
    with ScriptedServer(status=400, body=json.dumps(answer).encode()) as server:
        settings.EXPORT_SERVER_URL = server.url
        response = api_client.get(chart_url(finished.pk, "svg"))
        sent = json.loads(server.requests[0])
    assert response.status_code == 502
    assert body(response)["errors"][0]["rule"] == "export_server"
    assert "EXPORT_INVALID_REQUEST" in body(response)["detail"]
    assert sent["type"] == "svg" and sent["infile"]["title"]["text"] == "Well 7 &lt;base case&gt;"
    # The x axis is datetime in milliseconds; the water cut is drawn in percent.
    first_liquid, first_wct = sent["infile"]["series"][0]["data"][0], sent["infile"]["series"][3]["data"][0]
    assert first_liquid[0] == 1577836800000
    row = finished.rows.order_by("date").first()
    assert first_liquid[1] == row.liquid and first_wct[1] == pytest.approx(row.wct * 100)
    assert not CalculationChart.objects.exists()


def test_an_export_answer_that_is_not_an_svg_is_a_502(api_client, finished, settings):
    with ScriptedServer(status=200, body=b"\x89PNG\r\n\x1a\n...", content_type="image/png") as server:
        settings.EXPORT_SERVER_URL = server.url
        response = api_client.get(chart_url(finished.pk, "svg"))
    assert response.status_code == 502
    assert body(response)["detail"] == "Export server answered with something that is not an SVG"


def test_the_chart_routes_need_credentials(client, finished):
    assert client.get(chart_url(finished.pk, "png")).status_code == 401
    assert client.get(chart_url(finished.pk, "svg")).status_code == 401


def test_the_openapi_schema_documents_both_images(api_client):
    paths = body(api_client.get("/api/openapi.json"))["paths"]
    png = paths["/api/calculations/{id}/chart.png"]["get"]["responses"]
    svg = paths["/api/calculations/{id}/chart.svg"]["get"]["responses"]
    assert "image/png" in png["200"]["content"] and "image/svg+xml" in svg["200"]["content"]
    assert {"304", "409", "503"} <= set(png) and {"304", "409", "503"} <= set(svg)


def test_deleting_a_run_deletes_its_images(api_client, export_server, finished):
    api_client.get(chart_url(finished.pk, "png", width=600, height=300))
    finished.delete()
    assert not CalculationChart.objects.exists()


def test_the_chart_source_refuses_unknown_and_unfinished_runs_by_itself(make_calculation):
    from apps.calculations.selectors import calculation_chart_source
    from apps.core.errors import DomainError, NotFoundError

    with pytest.raises(NotFoundError):
        calculation_chart_source(calculation_id=987_654_321)
    with pytest.raises(DomainError) as caught:
        calculation_chart_source(calculation_id=make_calculation(status=JobStatus.RUNNING).pk)
    assert caught.value.status == 409


def test_a_stored_image_names_its_run_type_and_size(api_client, export_server, finished):
    api_client.get(chart_url(finished.pk, "svg", width=700, height=350))
    assert str(CalculationChart.objects.get()) == f"{finished.pk} 700x350.svg"
