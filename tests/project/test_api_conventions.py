"""The one API convention (docs/reference/api-conventions.md), checked across every operation:
unknown query parameters refused, errors of Django's own answers in the one shape, the
headers of 201s and 401s, and what the OpenAPI document says about them."""

import json
import re

import pytest
from django.test import Client

from apps.core.http import WWW_AUTHENTICATE
from apps.jobs.idempotency import KEY_MAX_LENGTH, KEY_PATTERN
from tests.security.conftest import assert_error

ONE_MONTH = {"date_start": "2024-01-01", "date_fin": "2024-01-31", "lag": 7}


@pytest.fixture(scope="module")
def document() -> dict:
    from project.api import api

    # Through JSON, as clients read it (status codes as strings).
    return json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/")))


def operations(document: dict) -> list[tuple[str, str, dict]]:
    return [(method, path, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_every_operation_refuses_a_query_parameter_it_does_not_declare(api_client, document):
    for method, path, operation in operations(document):
        url = re.sub(r"\{id\}", "1", path) + "?bogus=1&limit=5"
        response = (
            getattr(api_client, method)(url, content_type="application/json", data=None)
            if method == "post"
            else (api_client.get(url))
        )
        body = assert_error(response, 422, field="bogus", rule="unknown_parameter")
        assert [error["field"] for error in body["errors"]] == ["bogus", "limit"], (method, path)
        declared = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        assert all(name in body["errors"][0]["message"] for name in declared), (method, path)


def test_a_declared_parameter_is_not_refused_with_an_unknown_one_beside_it(api_client, db):
    body = assert_error(api_client.get("/api/calculations", {"page": 1, "stauts": "failed"}), 422)
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [("stauts", "unknown_parameter")]


def test_credentials_are_checked_before_the_parameters(db):
    response = Client().get("/api/calculations", {"bogus": 1})
    assert_error(response, 401, rule="authentication")
    assert response["WWW-Authenticate"] == WWW_AUTHENTICATE


@pytest.mark.parametrize(
    "url",
    ["/api/calculations/1/chart.png", "/api/functions", "/charts/1.png", "/charts/1/abc.png"],
)
def test_every_401_names_the_bearer_scheme(db, url):
    response = Client().get(url)
    assert_error(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="calcboard"'


def test_a_bad_token_is_a_401_with_the_scheme(db):
    response = Client().get("/api/functions", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_error(response, 401)
    assert response["WWW-Authenticate"] == WWW_AUTHENTICATE


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("delete", "/api/calculations", {"GET", "POST"}),
        ("put", "/api/calculations/1", {"GET"}),
        ("get", "/api/functions/1/cancel", {"POST"}),
        ("patch", "/api/functions/refresh", {"POST"}),
    ],
)
def test_a_method_the_route_does_not_take_is_a_405_in_the_one_shape(api_client, method, url, allowed):
    response = getattr(api_client, method)(url)
    body = assert_error(response, 405, rule="method_not_allowed")
    assert {name.strip() for name in response["Allow"].split(",")} == allowed
    assert method.upper() in body["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/",
        "/api/nothing",
        "/api/calculations/",
        "/api/calculations/1/nothing",
        "/api/functions/1/chart.svg",
    ],
)
def test_an_unknown_route_under_the_api_is_a_404_in_the_one_shape(api_client, url):
    body = assert_error(api_client.get(url), 404, rule="not_found")
    assert url in body["detail"]


def test_an_unknown_route_outside_the_api_stays_a_page(db):
    response = Client().get("/nothing-here")
    assert response.status_code == 404 and not response["Content-Type"].startswith("application/json")


def test_a_server_error_under_the_api_is_answered_in_the_one_shape(api_client, monkeypatch):
    from apps.calculations import api as calculations_api

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(calculations_api, "calculation_list", broken)
    client = Client(
        raise_request_exception=False, HTTP_AUTHORIZATION=api_client.defaults["HTTP_AUTHORIZATION"]
    )
    body = assert_error(client.get("/api/calculations"), 500, rule="server_error")
    assert "a bug" not in body["detail"]


@pytest.mark.parametrize(
    ("url", "payload", "detail"),
    [
        ("/api/calculations", ONE_MONTH, "/api/calculations/{}"),
        ("/api/functions", {"expression": "sin(t)", "dt": 1, "interval": 1}, "/api/functions/{}"),
    ],
)
def test_a_create_answers_201_with_the_location_of_the_detail(api_client, url, payload, detail):
    response = api_client.post(url, payload, content_type="application/json")
    assert response.status_code == 201
    assert response["Location"] == detail.format(response.json()["id"])
    assert api_client.get(response["Location"]).status_code == 200


def test_a_replayed_create_answers_the_same_location(api_client):
    headers = {"HTTP_IDEMPOTENCY_KEY": "retry-1"}
    first = api_client.post("/api/calculations", ONE_MONTH, content_type="application/json", **headers)
    again = api_client.post("/api/calculations", ONE_MONTH, content_type="application/json", **headers)
    assert (again.status_code, again["Location"], again.json()) == (201, first["Location"], first.json())


def test_a_rerun_answers_201_with_the_location_of_the_new_run(api_client, make_calculation):
    response = api_client.post(f"/api/calculations/{make_calculation(status='finished').pk}/rerun")
    assert (
        response.status_code == 201 and response["Location"] == f"/api/calculations/{response.json()['id']}"
    )


def test_the_document_names_the_headers_of_201s_and_401s(document):
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert "WWW-Authenticate" in responses["401"]["headers"], (method, path)
        if "201" in responses:
            assert "Location" in responses["201"]["headers"], (method, path)
    created = [(m, p) for m, p, op in operations(document) if "201" in op["responses"]]
    assert len(created) == 4  # calculations, re-runs, functions, wells


def test_the_document_gives_the_idempotency_keys_length_and_pattern(document):
    for path in ("/api/calculations", "/api/functions"):
        [header] = [
            p for p in document["paths"][path]["post"]["parameters"] if p["name"] == "Idempotency-Key"
        ]
        schema = header["schema"]
        assert (schema["minLength"], schema["maxLength"], schema["pattern"]) == (
            1,
            KEY_MAX_LENGTH,
            KEY_PATTERN,
        )
        assert re.fullmatch(KEY_PATTERN, " retry-1 ") and not re.fullmatch(KEY_PATTERN, "   ")
        assert not re.fullmatch(KEY_PATTERN, "caf\u00e9")


def test_the_document_gives_status_and_fields_as_arrays_of_enum_values(document):
    def array_of(path: str, name: str) -> list[str]:
        [parameter] = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
        [array] = [form for form in parameter["schema"]["anyOf"] if form.get("type") == "array"]
        return array["items"]["enum"]

    assert array_of("/api/calculations", "status") == array_of("/api/functions", "status")
    assert array_of("/api/calculations/{id}", "fields") == [
        "name",
        "duration",
        "summary",
        "forecast",
        "-result",
    ]


def test_the_images_document_their_etag_and_if_none_match(document):
    for path in (
        "/api/calculations/{id}/chart.png",
        "/api/calculations/{id}/chart.svg",
        "/api/functions/{id}/chart.png",
    ):
        operation = document["paths"][path]["get"]
        assert "ETag" in operation["responses"]["200"]["headers"], path
        assert "304" in operation["responses"], path
        assert [p["name"] for p in operation["parameters"] if p["in"] == "header"] == ["If-None-Match"], path


def test_every_list_documents_the_same_paging_parameters_and_envelope(document):
    lists = [path for method, path, op in operations(document) if op["operationId"].endswith("_list")]
    assert lists == ["/api/calculations", "/api/functions", "/api/wells"]
    paging = {}
    for path in lists:
        parameters = {p["name"]: p["schema"] for p in document["paths"][path]["get"]["parameters"]}
        paging[path] = {name: parameters[name] for name in ("page", "page_size", "cursor")}
        ref = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
            "$ref"
        ]
        envelope = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(envelope["required"]) == {
            "results",
            "count",
            "count_is_lower_bound",
            "pages",
            "page",
            "page_size",
            "next_cursor",
            "prev_cursor",
        }
    assert paging["/api/calculations"] == paging["/api/functions"] == paging["/api/wells"]


def test_any_other_answer_django_writes_under_the_api_is_shaped_too(db):
    # A Host the site does not serve: Django's own 400 page, turned into the one shape.
    response = Client(HTTP_HOST="not-ours.example").get("/api/functions")
    assert_error(response, 400, rule="bad_request")
