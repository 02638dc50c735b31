"""`GET /metrics` in-process: what the endpoint exports, who may read it, and what it says when
the database is gone. The real servers (gunicorn's workers, a Celery worker's pool) are scraped
in tests/deploy/test_metrics_scrape.py."""

import re

import pytest
from django.db import DatabaseError
from django.test import Client
from django.urls import resolve
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.calculations.models import Calculation
from apps.core.metrics import outside_call
from apps.integrations.transport import ServiceError, call_outcome
from apps.jobs.models import JobStatus
from project import metrics as project_metrics


def scrape(client: Client | None = None, **headers) -> dict[tuple[str, tuple], float]:
    response = (client or Client()).get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def run_with(status: str, **fields) -> Calculation:
    return Calculation.objects.create(
        name=status, date_start="2020-01-01", date_fin="2020-01-31", lag=1, status=status, **fields
    )


@pytest.mark.django_db
def test_it_exports_jobs_by_kind_and_status_from_the_counters():
    run_with(JobStatus.QUEUED)
    run_with(JobStatus.QUEUED)
    run_with(JobStatus.FAILED)

    values = scrape()

    assert values[("calcboard_jobs", (("kind", "calculation"), ("status", "queued")))] == 2
    assert values[("calcboard_jobs", (("kind", "calculation"), ("status", "failed")))] == 1
    assert values[("calcboard_jobs", (("kind", "calculation"), ("status", "running")))] == 0
    assert values[("calcboard_jobs", (("kind", "function"), ("status", "queued")))] == 0
    assert values[("calcboard_queue_depth", (("kind", "calculation"),))] == 2


@pytest.mark.django_db
def test_the_oldest_queued_job_gives_the_queue_its_age():
    run_with(JobStatus.QUEUED, queued_at=timezone.now() - timezone.timedelta(minutes=5))
    run_with(JobStatus.QUEUED, queued_at=timezone.now())

    values = scrape()

    assert 300 <= values[("calcboard_queue_oldest_age_seconds", (("kind", "calculation"),))] < 3600
    assert values[("calcboard_queue_oldest_age_seconds", (("kind", "function"),))] == 0


@pytest.mark.django_db
def test_requests_are_counted_by_view_and_method(api_client):
    view = resolve("/api/calculations").view_name
    key = (
        "django_http_requests_total_by_view_transport_method_total",
        (("method", "GET"), ("transport", "http"), ("view", view)),
    )
    before = scrape().get(key, 0)

    api_client.get("/api/calculations")

    after = scrape()
    assert after[key] == before + 1
    assert (
        after[
            ("django_http_requests_latency_seconds_by_view_method_count", (("method", "GET"), ("view", view)))
        ]
        >= 1
    )


@pytest.mark.django_db
def test_without_the_database_it_still_answers_its_process_metrics(monkeypatch):
    def unreadable(**kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(project_metrics, "status_counts", unreadable)

    values = scrape()

    assert not any(name == "calcboard_jobs" for name, _ in values)
    assert any(name.startswith("django_http_requests") for name, _ in values)


def test_in_multiprocess_mode_it_adds_up_the_folders_files(tmp_path, monkeypatch):
    from prometheus_client import CollectorRegistry, Counter
    from prometheus_client import values as prometheus_values

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    # A value written the way a gunicorn worker writes it, into the server's folder.
    monkeypatch.setattr(prometheus_values, "ValueClass", prometheus_values.MultiProcessValue(lambda: 4242))
    Counter("calcboard_test_worker_things", "A worker's count.", registry=CollectorRegistry()).inc(3)
    monkeypatch.setattr(project_metrics, "JobsCollector", type("Empty", (), {"collect": lambda self: []}))

    text = project_metrics.generate_latest(project_metrics.metrics_registry()).decode()

    assert re.search(r"^calcboard_test_worker_things_total 3\.0$", text, re.MULTILINE)


@pytest.mark.django_db
def test_outside_calls_are_counted_by_outcome():
    def failing(error: Exception):
        @outside_call("test_service", call_outcome)
        def call() -> None:
            raise error

        with pytest.raises(type(error)):
            call()

    failing(ServiceError(service="S", message="unreachable", transient=True))
    failing(ServiceError(service="S", message="failed", transient=True, status=502))
    failing(ServiceError(service="S", message="refused", transient=False, status=400))
    failing(ServiceError(service="S", message="garbage", transient=False))
    failing(ValueError("a bug, not an outcome"))

    @outside_call("test_service", call_outcome)
    def fine() -> int:
        return 1

    assert fine() == 1
    values = scrape()
    for outcome in ("unreachable", "server_error", "client_error", "bad_answer", "ok"):
        assert (
            values[("calcboard_outside_calls_total", (("outcome", outcome), ("service", "test_service")))]
            >= 1
        )
    assert (
        "calcboard_outside_calls_total",
        (("outcome", "ValueError"), ("service", "test_service")),
    ) not in values
