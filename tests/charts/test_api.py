"""The functions REST API: typed inputs, one error shape, pagination, refresh, the PNG."""

import pytest
from django.test import Client

from apps.charts.models import Function
from tests.conftest import PublishedTask, ScratchQueue


@pytest.fixture(autouse=True)
def published(scratch_queues) -> ScratchQueue:
    """These tests check the API's answers, not the worker: tasks go to the real broker, on a
    queue no worker consumes, where the test reads them."""
    return scratch_queues.charts


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/functions"),
        ("post", "/api/functions"),
        ("get", "/api/functions/1"),
        ("post", "/api/functions/refresh"),
        ("get", "/api/functions/1/chart.png"),
    ],
)
def test_every_route_needs_credentials(method, path):
    response = getattr(Client(), method)(path, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["errors"][0]["rule"] == "authentication"


@pytest.mark.django_db
def test_create_answers_201_with_the_id_and_queues_the_chart(
    api_client, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/functions",
            {"expression": "t + 2/t", "dt": 1, "interval": 30},
            content_type="application/json",
        )
    assert response.status_code == 201
    pk = response.json()["id"]
    assert Function.objects.get(pk=pk).status == "queued"
    assert published.take() == [PublishedTask(name="charts.render", args=[pk])]


@pytest.mark.django_db
def test_a_malformed_expression_is_a_422_naming_field_rule_and_position(api_client):
    response = api_client.post(
        "/api/functions", {"expression": "2t", "dt": 1, "interval": 30}, content_type="application/json"
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["rule"]) == ("expression", "syntax")
    assert "position 1" in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"expression": "t", "dt": 0, "interval": 30}, "dt"),
        ({"expression": "t", "dt": 1, "interval": -1}, "interval"),
        ({"expression": "", "dt": 1, "interval": 1}, "expression"),
        ({"expression": "t" * 201, "dt": 1, "interval": 1}, "expression"),
        ({"expression": "t", "dt": 1, "interval": 1, "colour": "red"}, "colour"),
        ({"expression": "t", "dt": "one", "interval": 1}, "dt"),
    ],
)
def test_bad_fields_are_422_naming_the_field(api_client, body, field):
    response = api_client.post("/api/functions", body, content_type="application/json")
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not Function.objects.exists()


@pytest.mark.django_db
def test_too_many_points_is_a_422(api_client):
    response = api_client.post(
        "/api/functions", {"expression": "t", "dt": 0.01, "interval": 3650}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["rule"] == "too_many_points"


@pytest.mark.django_db
def test_a_body_that_is_not_json_is_a_4xx_not_a_crash(api_client):
    response = api_client.post("/api/functions", "expression=t", content_type="text/plain")
    assert 400 <= response.status_code < 500


@pytest.mark.django_db
def test_list_is_paginated_and_ordered_newest_first(api_client, make_function):
    rows = [make_function(f"t + {i}") for i in range(5)]
    response = api_client.get("/api/functions", {"page_size": 2, "page": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    assert [item["id"] for item in body["results"]] == [rows[2].pk, rows[1].pk]
    ascending = api_client.get("/api/functions", {"ordering": "created_at", "page_size": 100}).json()
    assert [item["id"] for item in ascending["results"]] == [r.pk for r in rows]


@pytest.mark.django_db
def test_list_filters_by_status_and_sorts_unprocessed_rows_last(api_client, make_function):
    from django.utils import timezone

    done = make_function(status="finished", processed_at=timezone.now())
    waiting = make_function(status="queued")
    body = api_client.get("/api/functions", {"ordering": "-processed_at"}).json()
    assert [item["id"] for item in body["results"]] == [done.pk, waiting.pk]
    queued_only = api_client.get("/api/functions", {"status": "queued"}).json()
    assert [item["id"] for item in queued_only["results"]] == [waiting.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"page_size": 0},
        {"page_size": 1000},
        {"page": 0},
        {"offset": 1},
        {"ordering": "image"},
        {"status": "lost"},
    ],
)
def test_bad_list_parameters_are_422(api_client, query):
    assert api_client.get("/api/functions", query).status_code == 422


@pytest.mark.django_db
def test_detail_gives_status_dates_error_and_the_versioned_chart_url(api_client, make_function):
    function = make_function(status="finished")
    body = api_client.get(f"/api/functions/{function.pk}").json()
    assert body["status"] == "finished" and body["error"] is None
    assert body["image_url"] == f"/charts/{function.pk}/{function.image_hash[:16]}.png"
    assert set(body) >= {
        "created_at",
        "updated_at",
        "processed_at",
        "queued_at",
        "started_at",
        "dt",
        "interval",
    }
    # The URL works for the same API client (bearer token).
    assert api_client.get(body["image_url"]).status_code == 200


@pytest.mark.django_db
def test_detail_of_a_failed_row_has_the_error_and_no_url(api_client, make_function):
    function = make_function(status="failed", error="Data service: division by zero at t=5")
    body = api_client.get(f"/api/functions/{function.pk}").json()
    assert (body["status"], body["error"], body["image_url"]) == (
        "failed",
        "Data service: division by zero at t=5",
        None,
    )


@pytest.mark.django_db
def test_unknown_or_impossible_ids_are_404(api_client):
    for path in ("424242", "0", "-1", str(2**70), "0/chart.png", f"{2**70}/chart.png", f"{2**70}/cancel"):
        response = (
            api_client.post(f"/api/functions/{path}")
            if path.endswith("cancel")
            else api_client.get(f"/api/functions/{path}")
        )
        assert response.status_code == 404, path
        assert response.json()["errors"][0]["rule"] == "not_found"


@pytest.mark.django_db
def test_refresh_answers_queued_and_skipped(
    api_client, make_function, published, django_capture_on_commit_callbacks
):
    done, running = make_function(status="finished"), make_function(status="running")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/functions/refresh", {"ids": [done.pk, running.pk]}, content_type="application/json"
        )
    assert response.status_code == 200
    assert response.json() == {"queued": 1, "skipped": 1}
    assert published.job_ids() == [done.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"ids": []}, 422),
        ({"ids": [0]}, 422),
        ({"ids": "1"}, 422),
        ({"ids": ["1"]}, 422),
        ({"ids": [True]}, 422),
        ({"ids": [1.5]}, 422),
        ({"ids": [1], "all": True}, 422),
        ({"ids": [424242]}, 404),
    ],
)
def test_bad_refresh_bodies_are_refused(api_client, body, status):
    assert (
        api_client.post("/api/functions/refresh", body, content_type="application/json").status_code == status
    )


@pytest.mark.django_db
def test_the_chart_png_comes_with_an_etag(api_client, make_function):
    function = make_function(status="finished")
    response = api_client.get(f"/api/functions/{function.pk}/chart.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content == bytes(function.image)
    again = api_client.get(
        f"/api/functions/{function.pk}/chart.png", headers={"If-None-Match": response["ETag"]}
    )
    assert again.status_code == 304


@pytest.mark.django_db
def test_the_chart_png_of_a_row_without_image_is_404(api_client, make_function):
    function = make_function(status="queued")
    assert api_client.get(f"/api/functions/{function.pk}/chart.png").status_code == 404


@pytest.mark.django_db
def test_an_id_written_as_2_0_is_an_integer_as_json_schema_says(api_client, make_function):
    function = make_function(status="finished")
    response = api_client.post(
        "/api/functions/refresh", {"ids": [float(function.pk)]}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json() == {"queued": 1, "skipped": 0}
