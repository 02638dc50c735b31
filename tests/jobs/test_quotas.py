"""Per-user quotas of jobs in flight: creates, re-runs and refreshes past the cap answer 429 in
the one error shape with Retry-After, and a bulk request is refused whole."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.services import api_token_create
from apps.calculations.models import Calculation
from apps.charts.models import Function
from apps.jobs.models import JobStatus
from tests.conftest import permissions_grant

pytestmark = pytest.mark.django_db

RUN = {"date_start": "2024-01-01", "date_fin": "2024-01-31", "lag": 1}


def post(client: Client, url: str, body: dict | None = None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def assert_quota_error(response) -> dict:
    assert response.status_code == 429, response.content
    assert response["Retry-After"] == "30"
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["errors"][0]["rule"] == "quota" and body["errors"][0]["field"] is None
    return body


def test_a_create_past_the_cap_is_a_429_with_retry_after(api_client, settings):
    settings.CALCULATIONS_QUOTA_IN_FLIGHT = 2
    first, second = post(api_client, "/api/calculations", RUN), post(api_client, "/api/calculations", RUN)

    third = post(api_client, "/api/calculations", RUN)

    assert first.status_code == second.status_code == 201
    body = assert_quota_error(third)
    assert "at most 2 in flight" in body["detail"]
    assert Calculation.objects.count() == 2


def test_ended_jobs_and_other_users_jobs_do_not_count(api_client, user, settings):
    settings.CALCULATIONS_QUOTA_IN_FLIGHT = 1
    post(api_client, "/api/calculations", RUN)
    Calculation.objects.update(status=JobStatus.FINISHED)
    other = get_user_model().objects.create_user(username="other", password="other-pass-123")
    Calculation.objects.create(
        name="theirs",
        date_start="2024-01-01",
        date_fin="2024-01-02",
        lag=1,
        status=JobStatus.QUEUED,
        queued_by=other,
    )

    assert post(api_client, "/api/calculations", RUN).status_code == 201
    assert_quota_error(post(api_client, "/api/calculations", RUN))


def test_a_rerun_counts_like_a_create(api_client, settings):
    settings.CALCULATIONS_QUOTA_IN_FLIGHT = 1
    pk = post(api_client, "/api/calculations", RUN).json()["id"]

    assert_quota_error(post(api_client, f"/api/calculations/{pk}/rerun"))


def test_a_function_create_past_the_cap_is_refused(api_client, settings):
    settings.CHARTS_QUOTA_IN_FLIGHT = 1
    body = {"expression": "sin(t)", "dt": 1, "interval": 1}
    assert post(api_client, "/api/functions", body).status_code == 201

    assert_quota_error(post(api_client, "/api/functions", body))
    assert Function.objects.count() == 1


def test_a_refresh_counts_every_job_it_would_queue_and_is_refused_whole(api_client, make_function, settings):
    settings.CHARTS_QUOTA_IN_FLIGHT = 3
    ended = [make_function(status=JobStatus.FINISHED) for _ in range(4)]

    refused = post(api_client, "/api/functions/refresh", {"ids": [f.pk for f in ended]})
    accepted = post(api_client, "/api/functions/refresh", {"ids": [f.pk for f in ended[:3]]})

    body = assert_quota_error(refused)
    assert "4 more would make 4" in body["detail"]
    assert accepted.status_code == 200 and accepted.json() == {"queued": 3, "skipped": 0}
    # Already in flight: skipped, not counted again.
    assert (
        post(api_client, "/api/functions/refresh", {"ids": [f.pk for f in ended[:3]]}).json()["skipped"] == 3
    )
    assert Function.objects.filter(status=JobStatus.QUEUED).count() == 3


def test_a_kind_without_a_cap_has_no_quota(user):
    from dataclasses import replace

    from apps.calculations.services import CALCULATION_JOB
    from apps.jobs.quotas import jobs_quota_check

    uncapped = replace(CALCULATION_JOB, policy=replace(CALCULATION_JOB.policy, quota_in_flight=None))

    jobs_quota_check(kind=uncapped, user_id=user.pk, adding=10_000)  # nothing raised


def test_the_quota_refusal_is_counted_in_the_metrics(api_client, settings):
    settings.CALCULATIONS_QUOTA_IN_FLIGHT = 0
    assert_quota_error(post(api_client, "/api/calculations", RUN))

    text = Client().get("/metrics").content.decode()

    assert 'calcboard_quota_refusals_total{kind="calculation"}' in text


def test_each_user_has_a_cap_of_their_own(api_client, settings, django_user_model):
    settings.CALCULATIONS_QUOTA_IN_FLIGHT = 1
    post(api_client, "/api/calculations", RUN)
    colleague = django_user_model.objects.create_user(username="colleague", password="colleague-pass-123")
    permissions_grant(colleague, "view", "add", "change")
    theirs = Client(headers={"Authorization": f"Bearer {api_token_create(user=colleague, name='c')[1]}"})

    assert post(theirs, "/api/calculations", RUN).status_code == 201
