"""The data service as its own process (daphne + project.settings.dataservice), over HTTP."""

import itertools
import math
import time
from collections.abc import Iterator

import httpx
import pytest

from harness import processes


def test_it_serves_a_preset_over_http(dataservice):
    before = time.time()
    response = httpx.post(
        f"{dataservice}/points", json={"expression": "t + 2/t", "dt": 1, "interval": 30}, timeout=30
    )

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(body["points"]) == 721
    assert before - 1 <= body["points"][-1][0] <= time.time() + 1  # the series ends now
    ts = [t for t, _ in body["points"]]
    assert all(b - a == pytest.approx(3600, abs=1e-5) for a, b in itertools.pairwise(ts))
    for t, y in body["points"]:
        assert y == pytest.approx(t + 2 / t, rel=1e-15)


def test_it_serves_the_maximum_number_of_points(dataservice):
    response = httpx.post(
        f"{dataservice}/points", json={"expression": "sin(t)", "dt": 0.5, "interval": 2083.3125}, timeout=30
    )

    assert response.status_code == 200
    points = response.json()["points"]
    assert len(points) == 100_000
    assert all(math.isclose(y, math.sin(t), rel_tol=1e-12, abs_tol=1e-12) for t, y in points[::997])


def test_it_refuses_bad_input_over_http(dataservice):
    syntax = httpx.post(f"{dataservice}/points", json={"expression": "t)--", "dt": 1, "interval": 1})
    math_error = httpx.post(f"{dataservice}/points", json={"expression": "1/(t-t)", "dt": 1, "interval": 1})
    not_json = httpx.post(f"{dataservice}/points", content=b"{", headers={"Content-Type": "application/json"})
    too_large = httpx.post(
        f"{dataservice}/points", content=b" " * 20_000, headers={"Content-Type": "application/json"}
    )
    wrong_method = httpx.get(f"{dataservice}/points")

    assert syntax.status_code == 422
    assert syntax.json()["errors"][0] == {
        "field": "expression",
        "rule": "syntax",
        "message": "unexpected ')' at position 1",
        "position": 1,
    }
    assert math_error.status_code == 422
    assert math_error.json()["detail"].startswith("math error: division by zero at t=")
    assert not_json.status_code == 400 and not_json.json()["errors"][0]["rule"] == "json"
    assert too_large.status_code == 413 and too_large.json()["errors"][0]["rule"] == "too_large"
    assert wrong_method.status_code == 405 and wrong_method.json()["errors"][0]["rule"] == "method"


def post_text(url: str, text: str) -> httpx.Response:
    return httpx.post(f"{url}/points", content=text.encode(), headers={"Content-Type": "application/json"})


def test_it_refuses_json_nested_too_deeply_with_a_400(dataservice):
    response = post_text(dataservice, "[" * 5000)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "The body is not valid JSON: arrays or objects nest too deeply.",
        "errors": [
            {
                "field": None,
                "rule": "json",
                "message": "The body is not valid JSON: arrays or objects nest too deeply.",
            }
        ],
    }


@pytest.mark.parametrize(
    ("field", "literal", "shown"),
    [
        ("dt", "1e999999999", "1E+999999999"),
        ("dt", "-1e999999999", "-1E+999999999"),
        ("dt", "1e-999999999", "1E-999999999"),
        ("interval", "1e999999999", "1E+999999999"),
        ("interval", "-1E-99999", "-1E-99999"),
    ],
)
def test_it_refuses_numbers_of_an_extreme_exponent_as_out_of_range(dataservice, field, literal, shown):
    values = {"dt": "1", "interval": "1", field: literal}
    text = f'{{"expression": "t", "dt": {values["dt"]}, "interval": {values["interval"]}}}'

    response = post_text(dataservice, text)

    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["field"], error["rule"]) == (field, "range")
    assert error["message"].endswith(f"got {shown}")


def test_it_reports_health(dataservice):
    response = httpx.get(f"{dataservice}/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.fixture
def dataservice_without_database() -> Iterator[str]:
    """A data service process whose PostgreSQL port has no listener."""
    port = processes.free_port()
    url = f"http://127.0.0.1:{port}"
    process = processes.Process(
        "dataservice-no-db",
        [str(processes.RUN), "dataservice"],
        {
            "DATASERVICE_LISTEN": f"127.0.0.1:{port}",
            "POSTGRES_PORT": str(processes.free_port()),
            "PYTHONUNBUFFERED": "1",
        },
    )
    try:
        process.wait_ready(
            lambda: httpx.get(f"{url}/health", timeout=5).status_code > 0,
            port=port,
            timeout=30,
            what="data service without database",
        )
        yield url
    finally:
        process.stop()


def test_it_answers_503_when_the_database_is_down(dataservice_without_database):
    health = httpx.get(f"{dataservice_without_database}/health", timeout=10)
    points = httpx.post(
        f"{dataservice_without_database}/points", json={"expression": "t", "dt": 1, "interval": 1}, timeout=10
    )

    assert health.status_code == 503
    assert health.json() == {"status": "unavailable", "database": "unavailable"}
    assert points.status_code == 503
    assert points.json() == {
        "detail": "the database is unavailable",
        "errors": [{"field": None, "rule": "unavailable", "message": "the database is unavailable"}],
    }
