"""schemathesis against the project's own OpenAPI document (the one /api/openapi.json serves),
called in-process through the WSGI application with a real bearer token.

Every operation gets a bounded, reproducible batch of generated requests (valid and invalid):
no 5xx, every status code documented, every body valid against its documented schema, invalid
input refused, and valid input accepted (see CROSS_FIELD_RULES for the one exception). Then
real rows in every state are read back and checked against the same schema, because random
ids almost never hit an existing row.
"""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

from project.api import api

MAX_EXAMPLES = 25

# Rules JSON Schema cannot state, so a request that satisfies the schema may still be a 422:
# the expression grammar, interval / dt <= the point limit, date_start <= date_fin, the
# result-row limit, no control characters in a name; on the lists, a cursor this API did not
# issue (or made for another ordering), and a cursor sent with a page. Each is a 422 naming
# field and rule (tests/security/test_bad_input.py, tests/*/test_api_list.py); here 422 is an
# accepted answer to schema-valid data. The history imports check a file's content in the
# job, but a column mapping that names no column of ours, a date format that cannot read a
# date back, or an empty file are refused at once (tests/wells/test_api.py). A batch forecast
# refuses ids of wells that do not exist (or lack history) as a whole, naming `ids.<index>`.
CROSS_FIELD_RULES = [
    "POST /api/calculations",
    "POST /api/functions",
    "GET /api/calculations",
    "GET /api/functions",
    "POST /api/wells",
    "POST /api/wells/{id}/history",
    "POST /api/wells/import",
    "GET /api/wells",
    "GET /api/wells/{id}/history",  # from after to
    "POST /api/wells/forecast",
]

CONFIG = {
    "seed": 7,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
    # Off: seeds generation with constants found in whatever modules happen to be imported,
    # so the examples (and a failure) would depend on which tests ran before.
    "analysis": {"constants": {"enabled": False}},
    "operations": [
        {
            "include-name": CROSS_FIELD_RULES,
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", 401, 404, 409, 422]}},
        }
    ],
}

schema = schemathesis.openapi.from_wsgi(
    "/api/openapi.json",
    get_wsgi_application(),
    config=schemathesis.config.SchemathesisConfig.from_dict(CONFIG),
)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_its_schema(in_process_wsgi, case, api_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {api_token}"})


def test_the_schema_covers_every_operation():
    # An operation left out of the document (include_in_schema=False) would escape the fuzzing.
    served = {
        f"{method} /api{prefix}{path}"
        for prefix, router in api._routers
        for path, path_view in router.path_operations.items()
        for operation in path_view.operations
        for method in operation.methods
    }
    assert {result.ok().label for result in schema.get_all_operations()} == served
    assert len(served) >= 9


def real_requests(rows) -> list[tuple[str, str, dict]]:
    """(method, path, parts of the request) reaching rows in every state."""
    requests = [
        ("GET", "/api/calculations", {"query": {"ordering": ordering}})
        for ordering in ("launched_at", "-launched_at")
    ]
    requests += [
        ("GET", "/api/functions", {"query": {"status": status}})
        for status in ("queued", "finished", "failed")
    ]
    for calculation in (rows.finished, rows.failed, rows.running, rows.queued):
        for fields in ("", "name,duration", "summary,-result"):
            requests.append(
                (
                    "GET",
                    "/api/calculations/{id}",
                    {"path_parameters": {"id": calculation.pk}, "query": {"fields": fields}},
                )
            )
        requests.append(
            ("GET", "/api/calculations/{id}/result.csv", {"path_parameters": {"id": calculation.pk}})
        )
    for function in (rows.charted, rows.chart_failed, rows.chart_queued):
        requests.append(("GET", "/api/functions/{id}", {"path_parameters": {"id": function.pk}}))
        requests.append(
            (
                "GET",
                "/api/functions/{id}/chart.png",
                {"path_parameters": {"id": function.pk}},
            )
        )
    requests.append(
        ("POST", "/api/functions/refresh", {"body": {"ids": [rows.charted.pk, rows.chart_queued.pk]}})
    )
    return requests


def test_real_rows_in_every_state_conform_to_the_schema(in_process_wsgi, rows, api_token):
    statuses = set()
    for method, path, parts in real_requests(rows):
        case = schema[path][method].Case(**parts)
        response = case.call_and_validate(headers={"Authorization": f"Bearer {api_token}"})
        statuses.add((path, response.status_code))
    # The reads above really reached the rows: 200s, the CSV's 409 for unfinished runs, a
    # chart's 404 before its first image.
    assert {
        ("/api/calculations/{id}", 200),
        ("/api/calculations/{id}/result.csv", 200),
        ("/api/calculations/{id}/result.csv", 409),
        ("/api/functions/{id}/chart.png", 200),
        ("/api/functions/{id}/chart.png", 404),
        ("/api/functions/refresh", 200),
    } <= statuses


@pytest.mark.parametrize("media_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_the_documented_body_errors_are_what_the_api_answers(in_process_wsgi, api_token, media_type):
    # 400, 413 and 415 are documented once for every body (project/api.py): check one for real.
    operation = schema["/api/calculations"]["POST"]
    response = operation.Case(body="lag=1", media_type=media_type).call(
        headers={"Authorization": f"Bearer {api_token}", "Content-Type": media_type}
    )
    assert response.status_code == 415
    operation.validate_response(response)
