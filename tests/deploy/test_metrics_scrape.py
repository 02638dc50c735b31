"""The metrics endpoints of the real servers, scraped before and after real jobs ran: gunicorn
(two workers, multiprocess mode) behind the front door, daphne, and a Celery worker's own
endpoint. The front door itself never serves /metrics."""

import json
import time

import httpx
import pytest
import websockets.sync.client
from prometheus_client.parser import text_string_to_metric_families

from apps.accounts.services import api_token_create
from tests.conftest import permissions_grant
from tests.security.conftest import Reply, assert_error

pytestmark = pytest.mark.django_db(transaction=True)

Samples = dict[tuple[str, tuple], float]


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of `name` whose labels include `labels`."""
    return sum(v for (n, have), v in samples.items() if n == name and set(labels.items()) <= set(have))


def wait_ended(http: httpx.Client, url: str) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        body = http.get(url).json()
        if body["status"] in ("finished", "failed", "cancelled"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{url} did not end: {body}")


def test_counts_and_histograms_move_after_real_jobs_ran(front_door, celery_worker, django_user_model):
    user = django_user_model.objects.create_user(username="metrics-user", password="metrics-pass-123")
    permissions_grant(user, "view", "add", "change")
    auth = {"Authorization": f"Bearer {api_token_create(user=user, name='metrics')[1]}"}
    web = f"http://127.0.0.1:{front_door.web_port}/metrics"
    ws_metrics = f"http://127.0.0.1:{front_door.ws_port}/metrics"
    before_web, before_ws, before_worker = scrape(web), scrape(ws_metrics), scrape(celery_worker.metrics_url)

    with (
        websockets.sync.client.connect(
            front_door.ws_url, additional_headers={**auth, "Origin": front_door.base_url}, open_timeout=10
        ) as ws,
        httpx.Client(base_url=front_door.base_url, headers=auth, timeout=30) as http,
    ):
        ws.send(json.dumps({"action": "subscribe", "stream": "calculations"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        run = http.post(
            "/api/calculations", json={"date_start": "2020-01-01", "date_fin": "2020-12-31", "lag": 1}
        )
        function = http.post("/api/functions", json={"expression": "sin(t)", "dt": 1, "interval": 2})
        assert run.status_code == function.status_code == 201, (run.text, function.text)
        assert wait_ended(http, f"/api/calculations/{run.json()['id']}")["status"] == "finished"
        assert wait_ended(http, f"/api/functions/{function.json()['id']}")["status"] == "finished"
        ws.recv(timeout=10)  # at least one event about the run reached this socket
        during_ws = scrape(ws_metrics)
    after_web, after_worker = scrape(web), scrape(celery_worker.metrics_url)

    # The web tier: requests by view and method, summed over gunicorn's two workers; the jobs
    # as the database counts them.
    requests = "django_http_requests_total_by_view_transport_method_total"
    assert total(after_web, requests, method="POST") >= total(before_web, requests, method="POST") + 2
    assert total(after_web, requests, method="GET") >= total(before_web, requests, method="GET") + 2
    latency = "django_http_requests_latency_seconds_by_view_method_count"
    assert total(after_web, latency) > total(before_web, latency)
    for kind in ("calculation", "function"):
        finished = value(after_web, "calcboard_jobs", kind=kind, status="finished")
        assert finished == value(before_web, "calcboard_jobs", kind=kind, status="finished") + 1

    # The worker: each job's duration, and the chart's calls to the two services.
    for kind in ("calculation", "function"):
        for sample in ("calcboard_job_duration_seconds_count", "calcboard_job_duration_seconds_bucket"):
            labels = {
                "kind": kind,
                "outcome": "finished",
                **({"le": "600.0"} if sample.endswith("bucket") else {}),
            }
            assert value(after_worker, sample, **labels) == value(before_worker, sample, **labels) + 1
    for service in ("dataservice", "export_server"):
        calls = value(after_worker, "calcboard_outside_calls_total", service=service, outcome="ok")
        assert (
            calls == value(before_worker, "calcboard_outside_calls_total", service=service, outcome="ok") + 1
        )
        assert (
            value(
                after_worker, "calcboard_outside_call_duration_seconds_count", service=service, outcome="ok"
            )
            >= 1
        )

    # daphne: the open socket, and the events it was sent.
    assert value(during_ws, "calcboard_websocket_connections") >= 1
    assert value(during_ws, "calcboard_websocket_events_delivered_total") > value(
        before_ws, "calcboard_websocket_events_delivered_total"
    )


def test_the_front_door_never_serves_metrics(front_door):
    anonymous = httpx.get(f"{front_door.base_url}/metrics")
    with_a_header = httpx.get(f"{front_door.base_url}/metrics", headers={"Authorization": "Bearer anything"})

    assert_error(Reply(anonymous), 404, field=None, rule="not_found")
    assert with_a_header.status_code == 404
    assert b"calcboard_" not in anonymous.content
