"""`GET /api/calculations/{id}/chart.png|svg`: drawn by the real export server on the first
request, stored, then served from the database with an ETag; 409 until the run finished."""

import json
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import httpx
import pytest
from django.utils import timezone

from apps.calculations.models import CalculationChart
from apps.jobs.models import JobStatus
from harness import processes
from harness.processes import ScriptedServer, free_port, wait_until
from project.settings.test import child_settings_env
from tests.calculations.conftest import body
from tests.charts.conftest import png_size, tiny_png

SVG = "{http://www.w3.org/2000/svg}"


def chart_url(pk: int, image_type: str, **size) -> str:
    query = "&".join(f"{key}={value}" for key, value in size.items())
    return f"/api/calculations/{pk}/chart.{image_type}" + (f"?{query}" if query else "")


@pytest.fixture
def finished(make_finished):
    return make_finished(
        date_start=date(2020, 1, 1), date_fin=date(2022, 12, 31), lag=7, name="Well 7 <base case>"
    )


def svg_root(content: bytes) -> ET.Element:
    root = ET.fromstring(content)  # noqa: S314 - our own export server's SVG
    assert root.tag == f"{SVG}svg"
    return root


def svg_text(root: ET.Element) -> str:
    return " ".join(text for text in root.itertext())


def test_the_png_has_the_requested_size_and_is_stored(api_client, export_server, finished):
    response = api_client.get(chart_url(finished.pk, "png", width=800, height=400))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/png"
    assert png_size(response.content) == (800, 400)
    stored = CalculationChart.objects.get(calculation=finished, format="png", width=800, height=400)
    assert bytes(stored.image) == response.content
    assert response["ETag"] == f'"{stored.image_hash}"'
    assert stored.drawn_from == finished.finished_at


def test_the_svg_has_the_requested_size_the_run_name_as_title_and_every_series(
    api_client, export_server, finished
):
    response = api_client.get(chart_url(finished.pk, "svg", width=1600, height=800))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/svg+xml"
    assert "script-src" not in response["Content-Security-Policy"]
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    root = svg_root(response.content)
    assert (root.get("width"), root.get("height")) == ("1600", "800")
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
    first = api_client.get(chart_url(finished.pk, "png", width=600, height=300))
    assert first.status_code == 200
    settings.EXPORT_SERVER_URL = f"http://127.0.0.1:{free_port()}"  # down from now on

    again = api_client.get(chart_url(finished.pk, "png", width=600, height=300))
    assert again.status_code == 200 and again.content == first.content
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == "private, no-cache"

    fresh = api_client.get(
        chart_url(finished.pk, "png", width=600, height=300), headers={"If-None-Match": first["ETag"]}
    )
    assert fresh.status_code == 304 and fresh.content == b"" and fresh["ETag"] == first["ETag"]
    other = api_client.get(
        chart_url(finished.pk, "png", width=600, height=300), headers={"If-None-Match": '"stale", "other"'}
    )
    assert other.status_code == 200 and other.content == first.content
    assert CalculationChart.objects.filter(calculation=finished).count() == 1


def test_every_type_and_size_is_its_own_image(api_client, export_server, finished):
    for image_type, width, height in (("png", 600, 300), ("png", 800, 300), ("svg", 600, 300)):
        assert (
            api_client.get(chart_url(finished.pk, image_type, width=width, height=height)).status_code == 200
        )
    assert CalculationChart.objects.filter(calculation=finished).count() == 3


def test_a_run_that_finished_again_gets_a_new_image(api_client, export_server, finished):
    first = api_client.get(chart_url(finished.pk, "png", width=600, height=300))
    later = finished.finished_at + timedelta(minutes=5)
    type(finished).objects.filter(pk=finished.pk).update(finished_at=later)
    CalculationChart.objects.filter(calculation=finished).update(image=b"old", image_hash="0" * 64)

    again = api_client.get(
        chart_url(finished.pk, "png", width=600, height=300), headers={"If-None-Match": '"' + "0" * 64 + '"'}
    )
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
        "detail": (f"Calculation {calculation.pk} is {status.value}: its chart exists once it has finished."),
        "errors": [
            {
                "field": None,
                "rule": "not_finished",
                "message": (
                    f"Calculation {calculation.pk} is {status.value}: its chart exists once it has finished."
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
    ("size", "field"),
    [
        ({"width": 10}, "width"),
        ({"width": 900}, "width"),  # between two steps
        ({"height": 450}, "height"),
        ({"height": 99_999}, "height"),
    ],
)
def test_a_size_off_the_steps_is_a_422_naming_the_field_and_the_sizes(api_client, finished, size, field):
    response = api_client.get(chart_url(finished.pk, "png", **size))
    assert response.status_code == 422
    error = body(response)["errors"][0]
    assert (error["field"], error["rule"]) == (field, "literal_error")
    steps = "600, 800, 1200 or 1600" if field == "width" else "300, 400, 600 or 800"
    assert steps in error["message"]
    assert not CalculationChart.objects.exists()


def test_a_size_that_is_not_a_number_is_a_422(api_client, finished):
    response = api_client.get(chart_url(finished.pk, "png", width="wide"))
    assert response.status_code == 422
    assert body(response)["errors"][0]["field"] == "width"


def test_the_export_server_down_is_a_503_and_nothing_is_stored(api_client, finished, settings):
    settings.EXPORT_SERVER_URL = f"http://127.0.0.1:{free_port()}"
    response = api_client.get(chart_url(finished.pk, "png"))
    assert response.status_code == 503
    error = body(response)["errors"][0]
    assert (
        error["rule"] == "unavailable"
        and "Export server unreachable (connection refused)" in error["message"]
    )
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
    from apps.core.errors import ConflictError, NotFoundError

    with pytest.raises(NotFoundError):
        calculation_chart_source(calculation_id=987_654_321)
    with pytest.raises(ConflictError):
        calculation_chart_source(calculation_id=make_calculation(status=JobStatus.RUNNING).pk)


def test_a_stored_image_names_its_run_type_and_size(api_client, export_server, finished):
    api_client.get(chart_url(finished.pk, "svg", width=800, height=400))
    assert str(CalculationChart.objects.get()) == f"{finished.pk} 800x400.svg"


# --- the bounded store ----------------------------------------------------------------------


def stored_chart(calculation, *, width: int, height: int, size: int, used_at) -> CalculationChart:
    return CalculationChart.objects.create(
        calculation=calculation,
        format="png",
        width=width,
        height=height,
        drawn_from=calculation.finished_at,
        image=b"x" * size,
        image_hash=f"{size:064d}",
        size=size,
        used_at=used_at,
    )


def test_eviction_deletes_the_least_recently_used_images_past_the_bound(finished):
    from apps.calculations.services import calculation_charts_evict

    now = timezone.now()
    sizes = [(600, 300), (800, 300), (1200, 300), (1600, 300), (600, 400)]
    rows = [
        stored_chart(finished, width=w, height=h, size=100, used_at=now - timedelta(hours=i))
        for i, (w, h) in enumerate(sizes)
    ]
    assert calculation_charts_evict(max_bytes=250) == 3
    assert set(CalculationChart.objects.values_list("pk", flat=True)) == {rows[0].pk, rows[1].pk}
    assert calculation_charts_evict(max_bytes=250) == 0


def test_drawing_an_image_keeps_the_store_under_its_bound(api_client, export_server, finished, settings):
    first = api_client.get(chart_url(finished.pk, "png", width=600, height=300))
    drawn_size = len(first.content)
    CalculationChart.objects.all().delete()
    now = timezone.now()
    oldest = stored_chart(finished, width=800, height=300, size=1000, used_at=now - timedelta(days=3))
    older = stored_chart(finished, width=1200, height=300, size=1000, used_at=now - timedelta(days=2))
    old = stored_chart(finished, width=1600, height=300, size=1000, used_at=now - timedelta(days=1))
    settings.CALCULATION_CHARTS_STORE_BYTES = drawn_size + 2000

    again = api_client.get(chart_url(finished.pk, "png", width=600, height=300))
    assert again.status_code == 200 and again.content == first.content
    kept = CalculationChart.objects.order_by("width")
    assert [chart.pk for chart in kept if chart.pk in {oldest.pk, older.pk, old.pk}] == [older.pk, old.pk]
    assert sum(chart.size for chart in kept) <= settings.CALCULATION_CHARTS_STORE_BYTES
    assert kept.get(width=600).size == drawn_size


def test_serving_a_stored_image_marks_it_used_at_most_hourly(api_client, finished):
    long_ago, recently = timezone.now() - timedelta(hours=5), timezone.now() - timedelta(minutes=5)
    stale = stored_chart(finished, width=600, height=300, size=10, used_at=long_ago)
    fresh = stored_chart(finished, width=800, height=400, size=10, used_at=recently)
    assert api_client.get(chart_url(finished.pk, "png", width=600, height=300)).status_code == 200
    assert api_client.get(chart_url(finished.pk, "png", width=800, height=400)).status_code == 200
    stale.refresh_from_db(), fresh.refresh_from_db()
    assert stale.used_at > recently
    assert fresh.used_at == recently  # no write


def test_an_image_evicted_after_its_lookup_is_drawn_again(api_client, export_server, finished, monkeypatch):
    from apps.calculations import selectors

    stored_chart(finished, width=600, height=300, size=10, used_at=timezone.now())
    monkeypatch.setattr(selectors, "calculation_chart_image", lambda *, chart_id: None)  # gone meanwhile
    response = api_client.get(chart_url(finished.pk, "png", width=600, height=300))
    assert response.status_code == 200 and png_size(response.content) == (600, 300)


def test_the_openapi_schema_lists_the_sizes(api_client):
    paths = body(api_client.get("/api/openapi.json"))["paths"]
    parameters = {
        p["name"]: p["schema"] for p in paths["/api/calculations/{id}/chart.png"]["get"]["parameters"]
    }
    assert parameters["width"]["enum"] == [600, 800, 1200, 1600]
    assert parameters["height"]["enum"] == [300, 400, 600, 800]


def test_a_render_timeout_of_the_real_export_server_is_a_503_to_retry(
    api_client, export_server_timing_out, finished, settings
):
    settings.EXPORT_SERVER_URL = export_server_timing_out
    response = api_client.get(chart_url(finished.pk, "png"))
    assert response.status_code == 503 and response["Retry-After"] == "2"
    error = body(response)["errors"][0]
    assert error["rule"] == "unavailable" and "Rasterization timeout" in error["message"]
    assert not CalculationChart.objects.exists()


# --- drawing through the front door: shared drawings, bounded web workers ----------------------

DRAW_DELAY = 2.0  # seconds the scripted export server takes per image


@pytest.fixture(scope="module")
def slow_export_server():
    with ScriptedServer(status=200, body=tiny_png(), content_type="image/png", delay=DRAW_DELAY) as server:
        yield server


@pytest.fixture(scope="module")
def images_front_door(test_db_name, slow_export_server):
    """The real web tier (nginx, gunicorn with 4 workers) drawing through a slow export server,
    with 2 drawing slots."""
    door = processes.FrontDoor(
        test_db_name,
        name="images",
        web_workers=4,
        extra_env=child_settings_env(
            EXPORT_SERVER_URL=slow_export_server.url, CALCULATION_CHARTS_DRAWING_SLOTS=2
        ),
    )
    yield door
    door.stop()


def get_all(urls: list[str], token: str, base_url: str) -> list[httpx.Response]:
    """GET every URL at once, each from a thread of its own."""
    headers = {"Authorization": f"Bearer {token}"}
    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(lambda url: httpx.get(base_url + url, headers=headers, timeout=30), urls))


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_one_image_share_one_drawing(
    images_front_door, slow_export_server, api_token, make_finished
):
    run = make_finished(date_start=date(2020, 1, 1), date_fin=date(2020, 6, 30), lag=7)
    slow_export_server.requests.clear()
    responses = get_all([chart_url(run.pk, "png")] * 2, api_token, images_front_door.base_url)
    assert [response.status_code for response in responses] == [200, 200]
    assert responses[0].content == responses[1].content == tiny_png()
    assert len(slow_export_server.requests) == 1
    assert CalculationChart.objects.filter(calculation=run).count() == 1


@pytest.mark.django_db(transaction=True)
def test_drawing_takes_at_most_its_slots_and_the_api_keeps_answering(
    images_front_door, slow_export_server, api_token, make_finished
):
    runs = [make_finished(date_start=date(2020, 1, 1), date_fin=date(2020, 3, 31), lag=7) for _ in range(3)]
    slow_export_server.requests.clear()
    headers = {"Authorization": f"Bearer {api_token}"}
    base = images_front_door.base_url
    with ThreadPoolExecutor(2) as pool:
        drawing = [
            pool.submit(httpx.get, base + chart_url(run.pk, "png"), headers=headers, timeout=30)
            for run in runs[:2]
        ]
        wait_until(lambda: len(slow_export_server.requests) == 2, timeout=10, what="two drawings under way")
        # Both slots are taken: a third image is refused at once, and the rest of the API answers.
        refused = httpx.get(base + chart_url(runs[2].pk, "svg"), headers=headers, timeout=30)
        listed = httpx.get(base + "/api/calculations", headers=headers, timeout=30)
        drawn = [future.result() for future in drawing]
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"
    assert refused.json()["errors"][0]["rule"] == "unavailable"
    assert "drawing slot" in refused.json()["detail"]
    assert listed.status_code == 200 and listed.json()["count"] == 3
    assert [response.status_code for response in drawn] == [200, 200]
    assert len(slow_export_server.requests) == 2
    # Once the slots are free, the refused image is drawn.
    assert httpx.get(base + chart_url(runs[2].pk, "png"), headers=headers, timeout=30).status_code == 200


def test_every_drawing_slot_taken_is_a_503_at_once(api_client, finished, settings):
    from tests.core.test_locks import held_elsewhere

    settings.CALCULATION_CHARTS_DRAWING_SLOTS = 1
    with held_elsewhere("calculations.chart_drawing_slot", "0"):
        response = api_client.get(chart_url(finished.pk, "png"))
    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert body(response)["errors"][0]["rule"] == "unavailable"
    assert not CalculationChart.objects.exists()


def test_an_image_whose_drawing_outlasts_the_wait_is_a_503(api_client, finished, settings, monkeypatch):
    from apps.calculations import services
    from tests.core.test_locks import held_elsewhere

    settings.CALCULATION_CHARTS_DRAW_TIMEOUT = 0.1
    monkeypatch.setattr(services, "CHART_STORE_TIME", 0.1)

    with held_elsewhere("calculations.chart_image", f"{finished.pk}/png/1200x600"):
        response = api_client.get(chart_url(finished.pk, "png"))
    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert not CalculationChart.objects.exists()
