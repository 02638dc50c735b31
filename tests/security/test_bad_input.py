"""Bad input to the REST API gets a 4xx JSON body in the one error shape, naming the field and
the rule, and changes nothing; never a 500 or an HTML page."""

import gc
import json

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.db import connections

from apps.calculations.models import Calculation
from apps.charts.models import Function
from tests.security.conftest import VALID_BODIES, assert_error

BODY_URLS = list(VALID_BODIES)


def post(client, url: str, body, content_type: str = "application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, data, content_type=content_type)


def assert_nothing_created() -> None:
    assert not Calculation.objects.exists() and not Function.objects.exists()


# --- the body as a whole ------------------------------------------------------------------------


@pytest.mark.parametrize("url", BODY_URLS)
def test_an_oversized_body_is_a_413_naming_the_body(api_client, url):
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    body = assert_error(
        post(api_client, url, {**VALID_BODIES[url], "name": padding}), 413, field="body", rule="too_large"
    )
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in body["detail"]
    assert_nothing_created()


@pytest.mark.parametrize("url", BODY_URLS)
def test_an_oversized_body_in_another_content_type_is_still_a_413(api_client, url):
    body = "name=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert_error(
        post(api_client, url, body, "application/x-www-form-urlencoded"), 413, field="body", rule="too_large"
    )


@pytest.mark.django_db(transaction=True)
async def test_an_oversized_chunked_body_without_a_length_is_a_413_through_asgi(api_token):
    # What daphne hands Django for `Transfer-Encoding: chunked`: no Content-Length to check
    # up front, so the limit must hold while the body is read.
    from project.asgi import application

    body = json.dumps({**VALID_BODIES["/api/calculations"], "name": "x" * 200_000}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/calculations", "raw_path": b"/api/calculations", "query_string": b"", "root_path": "",
        "client": ("127.0.0.1", 50000), "server": ("localhost", 80),
        "headers": [
            (b"host", b"localhost"), (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            (b"authorization", f"Bearer {api_token}".encode()),
        ],
    }  # fmt: skip
    app = ApplicationCommunicator(application, scope)
    chunks = [body[start : start + 8192] for start in range(0, len(body), 8192)]
    for index, chunk in enumerate(chunks):
        await app.send_input({"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1})
    head = await app.receive_output(10)
    answer = json.loads((await app.receive_output(10))["body"])
    await app.wait(10)
    # Django ran the request in a thread of its own, gone now; collecting it closes its
    # database connection, which would otherwise keep the test database from being dropped.
    gc.collect()
    assert head["status"] == 413
    assert answer["errors"] == [
        {
            "field": "body",
            "rule": "too_large",
            "message": f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
        }
    ]
    assert not await sync_to_async(Calculation.objects.exists)()
    await sync_to_async(connections.close_all)()  # the connection that query opened in asgiref's thread


@pytest.mark.parametrize("url", BODY_URLS)
@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"lag": 7',
        b"date_start=2020-01-01",
        b"\xff\xfe\x00",
        b'{"lag": 7} trailing',
        b"{'lag': 7}",
        b"[" * 20_000 + b"]" * 20_000,
    ],
    ids=["open-brace", "truncated", "form-text", "not-utf8", "trailing", "single-quotes", "nested-too-deep"],
)
def test_a_body_that_is_not_json_is_a_400_naming_the_body(api_client, url, body):
    error = assert_error(post(api_client, url, body), 400, field="body", rule="json")
    assert "not valid JSON" in error["detail"]
    assert_nothing_created()


@pytest.mark.parametrize("url", BODY_URLS)
@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "application/xml", "multipart/form-data; boundary=x"],
)
def test_a_wrong_content_type_is_a_415_naming_the_body(api_client, url, content_type):
    # The body itself is valid JSON: only the declared type is wrong.
    body = assert_error(
        post(api_client, url, VALID_BODIES[url], content_type), 415, field="body", rule="content_type"
    )
    assert "application/json" in body["detail"]
    assert_nothing_created()


def test_a_form_post_from_a_test_client_default_is_a_415(api_client):
    # Django's client (like a browser form) sends multipart/form-data when no type is given.
    assert_error(
        api_client.post("/api/calculations", VALID_BODIES["/api/calculations"]), 415, rule="content_type"
    )


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/merge-patch+json"])
def test_json_with_a_charset_or_a_json_suffix_is_accepted(api_client, content_type):
    response = post(api_client, "/api/calculations", VALID_BODIES["/api/calculations"], content_type)
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("url", BODY_URLS)
@pytest.mark.parametrize("body", [b"null", b"[]", b'"text"', b"42", b"true"])
def test_json_that_is_not_an_object_is_a_422_naming_the_body(api_client, url, body):
    assert_error(post(api_client, url, body), 422, field="body")
    assert_nothing_created()


@pytest.mark.parametrize("url", BODY_URLS)
def test_an_empty_body_is_a_422_naming_the_body(api_client, url):
    assert_error(post(api_client, url, b""), 422, field="body", rule="missing")


@pytest.mark.parametrize("url", BODY_URLS)
def test_an_empty_object_names_every_missing_field(api_client, url):
    required = {
        "/api/calculations": {"date_start", "date_fin", "lag"},
        "/api/functions": {"expression", "dt", "interval"},
        "/api/functions/refresh": {"ids"},
        "/api/wells": {"name", "field"},
        "/api/wells/forecast": {"ids", "date_start", "date_fin", "lag"},
    }[url]
    body = assert_error(post(api_client, url, {}), 422)
    assert {error["field"] for error in body["errors"] if error["rule"] == "missing"} == required
    for field in required:
        assert field in body["detail"]


@pytest.mark.parametrize("url", BODY_URLS)
@pytest.mark.parametrize("unknown", ["colour", "id", "status", "__proto__", "date_start "])
def test_an_unknown_field_is_a_422_naming_it(api_client, url, unknown):
    body = assert_error(
        post(api_client, url, {**VALID_BODIES[url], unknown: 1}), 422, field=unknown, rule="extra_forbidden"
    )
    assert unknown in body["detail"]
    assert_nothing_created()


# --- every field, wrong types and out-of-range values -----------------------------------------

CALCULATION_CASES = [
    ("date_start", 20200101, "date_format"),
    ("date_start", None, "date_format"),
    ("date_start", [], "date_format"),
    ("date_start", {"y": 2020}, "date_format"),
    ("date_start", "2020-1-1", "date_format"),
    ("date_start", "01.01.2020", "date_format"),
    ("date_start", "2020-01-01T00:00:00", "date_format"),
    ("date_start", "2020-02-30", "date_invalid"),
    ("date_start", "2020-01-01\x00", "date_format"),
    ("date_fin", 1577836800, "date_format"),
    ("date_fin", "2019-12-31", "date_order"),
    ("date_fin", "9999-12-31", "max_rows"),
    ("lag", "7", "int_type"),
    ("lag", 7.5, "int_type"),
    ("lag", True, "int_type"),
    ("lag", None, "int_type"),
    ("lag", [7], "int_type"),
    ("lag", 0, "greater_than_equal"),
    ("lag", -7, "greater_than_equal"),
    ("lag", 3651, "less_than_equal"),
    ("lag", 2**70, "less_than_equal"),
    ("name", 5, "string_type"),
    ("name", ["run"], "string_type"),
    ("name", "x" * 201, "string_too_long"),
    ("name", "a\x00b", "invalid_characters"),
]
FUNCTION_CASES = [
    ("expression", 1, "string_type"),
    ("expression", None, "string_type"),
    ("expression", ["t"], "string_type"),
    ("expression", "", "string_too_short"),
    ("expression", "t" * 5000, "string_too_long"),
    ("expression", "t\x00", None),  # the compiler's own rule
    ("expression", "t; DROP TABLE charts_function", None),
    ("dt", "1", "float_type"),
    ("dt", True, "float_type"),
    ("dt", None, "float_type"),
    ("dt", [1], "float_type"),
    ("dt", 0, "greater_than_equal"),
    ("dt", -1, "greater_than_equal"),
    ("dt", 10**9, "less_than_equal"),
    ("interval", "30", "float_type"),
    ("interval", False, "float_type"),
    ("interval", {}, "float_type"),
    ("interval", 0, "greater_than"),
    ("interval", -30, "greater_than"),
    ("interval", 10**6, "less_than_equal"),
]
REFRESH_CASES = [
    ("ids", "1", "list_type"),
    ("ids", None, "list_type"),
    ("ids", {"1": 1}, "list_type"),
    ("ids", [], "too_short"),
    ("ids", list(range(1, 1002)), "too_long"),
]
REFRESH_ITEM_CASES = [  # errors inside the list name the item: ids.0
    (["1"], "int_type"),
    ([True], "int_type"),
    ([None], "int_type"),
    ([0], "greater_than_equal"),
    ([-1], "greater_than_equal"),
    ([2**63], "less_than_equal"),
]


def case_id(case) -> str:
    return f"{case[0]}={json.dumps(case[1])[:20]}"


@pytest.mark.parametrize("case", CALCULATION_CASES, ids=case_id)
def test_a_bad_calculation_field_is_a_422_naming_the_field_and_the_rule(api_client, case):
    field, value, rule = case
    body = assert_error(
        post(api_client, "/api/calculations", {**VALID_BODIES["/api/calculations"], field: value}),
        422,
        field=field,
        rule=rule,
    )
    assert field in body["detail"]
    assert_nothing_created()


@pytest.mark.parametrize("case", FUNCTION_CASES, ids=case_id)
def test_a_bad_function_field_is_a_422_naming_the_field_and_the_rule(api_client, case):
    field, value, rule = case
    body = assert_error(
        post(api_client, "/api/functions", {**VALID_BODIES["/api/functions"], field: value}),
        422,
        field=field,
        rule=rule,
    )
    assert field in body["detail"]
    assert_nothing_created()


@pytest.mark.parametrize("case", REFRESH_CASES, ids=case_id)
def test_a_bad_refresh_list_is_a_422_naming_the_field_and_the_rule(api_client, case):
    field, value, rule = case
    assert_error(post(api_client, "/api/functions/refresh", {field: value}), 422, field=field, rule=rule)


@pytest.mark.parametrize("case", REFRESH_ITEM_CASES, ids=lambda case: json.dumps(case[0]))
def test_a_bad_refresh_id_is_a_422_naming_the_item_and_the_rule(api_client, case):
    ids, rule = case
    assert_error(post(api_client, "/api/functions/refresh", {"ids": ids}), 422, field="ids.0", rule=rule)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_refused(api_client, literal):
    # Python's json reads these non-standard literals; they must not reach the data service.
    dt = f'{{"expression": "t", "dt": {literal}, "interval": 1}}'
    interval = f'{{"expression": "t", "dt": 1, "interval": {literal}}}'
    lag = f'{{"date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": {literal}}}'
    assert_error(post(api_client, "/api/functions", dt), 422, field="dt", rule="finite_number")
    assert_error(post(api_client, "/api/functions", interval), 422, field="interval", rule="finite_number")
    assert_error(post(api_client, "/api/calculations", lag), 422, field="lag", rule="int_type")
    assert_nothing_created()


def test_every_error_of_a_request_is_reported_at_once(api_client):
    body = assert_error(
        post(api_client, "/api/functions", {"expression": 1, "dt": "x", "interval": None}), 422
    )
    assert {error["field"] for error in body["errors"]} == {"expression", "dt", "interval"}


# --- query strings and paths --------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/calculations", "/api/functions"])
def test_a_page_past_the_end_is_an_empty_list(api_client, rows, url):
    response = api_client.get(url, {"page": 100_000, "page_size": 100})
    assert response.status_code == 200
    body = response.json()
    assert (body["results"], body["page"], body["next_cursor"], body["prev_cursor"]) == (
        [],
        100_000,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("url", "params", "field", "rule"),
    [
        ("/api/calculations", {"page": 0}, "page", "greater_than_equal"),
        ("/api/calculations", {"page": -1}, "page", "greater_than_equal"),
        ("/api/calculations", {"page": "two"}, "page", "int_parsing"),
        ("/api/calculations", {"page": "1.5"}, "page", "int_parsing"),
        ("/api/calculations", {"page": ""}, "page", None),
        ("/api/calculations", {"ordering": "name"}, "ordering", "literal_error"),
        ("/api/calculations", {"ordering": "launched_at; DROP TABLE x"}, "ordering", "literal_error"),
        ("/api/calculations", {"page": 10**30}, "page", "less_than_equal"),
        ("/api/functions", {"page_size": 0}, "page_size", "greater_than_equal"),
        ("/api/functions", {"page_size": 101}, "page_size", "less_than_equal"),
        ("/api/calculations", {"page_size": 10**30}, "page_size", "less_than_equal"),
        ("/api/functions", {"limit": 5}, "limit", "unknown_parameter"),
        ("/api/functions", {"offset": 5}, "offset", "unknown_parameter"),
        ("/api/calculations/1", {"field": "name"}, "field", "unknown_parameter"),
        ("/api/functions", {"ordering": "image"}, "ordering", "literal_error"),
        ("/api/functions", {"status": "done"}, "status", "allowed_values"),
        ("/api/calculations", {"status": "queued,done"}, "status", "allowed_values"),
        ("/api/calculations", {"search": "x" * 201}, "search", "string_too_long"),
        ("/api/functions", {"search": "t\x00"}, "search", "null_character"),
        ("/api/calculations", {"cursor": "not-a-cursor"}, "cursor", "invalid_cursor"),
        ("/api/functions", {"cursor": "x" * 1001}, "cursor", "string_too_long"),
        ("/api/calculations/1", {"fields": "name,secret"}, "fields", "allowed_values"),
    ],
    ids=lambda value: str(value)[:30],
)
def test_a_bad_query_parameter_is_a_422_naming_it(api_client, url, params, field, rule):
    assert_error(api_client.get(url, params), 422, field=field, rule=rule)


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/api/calculations/abc", 422, "id"),
        ("/api/calculations/1.5", 422, "id"),
        ("/api/calculations/abc/result.csv", 422, "id"),
        ("/api/functions/abc", 422, "id"),
        ("/api/functions/0", 404, None),
        ("/api/functions/-5/chart.png", 404, None),
        (f"/api/functions/{10**30}", 404, None),
        (f"/api/functions/{10**30}/chart.png", 404, None),
        (f"/api/calculations/{10**30}", 404, None),
        (f"/api/calculations/{2**63}/result.csv", 404, None),
        ("/api/calculations/-1", 404, None),
        ("/api/calculations/0", 404, None),
        (f"/charts/{10**30}.png", 404, None),
        (f"/charts/{10**30}/abc.png", 404, None),
    ],
    ids=lambda value: str(value)[:40],
)
def test_an_impossible_id_is_a_4xx_never_a_500(api_client, url, status, field):
    assert_error(api_client.get(url), status, field=field)
