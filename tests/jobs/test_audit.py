"""The audit trail through the API: who created (and with which token), cancelled, re-ran and
pinned a job, on lists and details, and the `?created_by=` filter."""

import json

import pytest
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


@pytest.fixture
def colleague_client(django_user_model) -> Client:
    colleague = django_user_model.objects.create_user(username="colleague", password="colleague-pass-123")
    permissions_grant(colleague, "view", "add", "change")
    return Client(headers={"Authorization": f"Bearer {api_token_create(user=colleague, name='laptop')[1]}"})


def test_a_run_records_its_creator_and_token_on_detail_and_list(api_client, user):
    pk = post(api_client, "/api/calculations", RUN).json()["id"]

    detail = api_client.get(f"/api/calculations/{pk}").json()
    item = api_client.get("/api/calculations").json()["results"][0]

    expected = {"id": user.pk, "username": "analyst", "token": "tests"}
    assert detail["created_by"] == item["created_by"] == expected
    assert "cancelled_by" not in detail and item["cancelled_by"] is None
    assert detail["pinned"] is item["pinned"] is False


def test_a_session_creator_has_no_token_name(user):
    client = Client()
    client.force_login(user)

    pk = post(client, "/api/calculations", RUN).json()["id"]

    assert client.get(f"/api/calculations/{pk}").json()["created_by"] == {
        "id": user.pk,
        "username": "analyst",
    }


def test_a_cancel_records_who_and_when(api_client, colleague_client):
    pk = post(api_client, "/api/calculations", RUN).json()["id"]

    answer = post(colleague_client, f"/api/calculations/{pk}/cancel").json()

    assert answer["cancelled_by"]["username"] == "colleague"
    run = Calculation.objects.get(pk=pk)
    assert run.cancelled_at == run.finished_at and run.cancelled_at is not None
    assert api_client.get("/api/calculations").json()["results"][0]["cancelled_by"]["username"] == "colleague"


def test_a_rerun_records_who_reran_the_original(api_client, colleague_client, make_calculation):
    original = make_calculation(status=JobStatus.FINISHED)

    new_id = post(colleague_client, f"/api/calculations/{original.pk}/rerun").json()["id"]

    original.refresh_from_db()
    assert original.rerun_by.username == "colleague" and original.rerun_at is not None
    assert Calculation.objects.get(pk=new_id).created_by.username == "colleague"


def test_pin_and_unpin_record_who_and_when(api_client, user, make_calculation):
    run = make_calculation(status=JobStatus.FINISHED)

    pinned = post(api_client, f"/api/calculations/{run.pk}/pin")
    again = post(api_client, f"/api/calculations/{run.pk}/pin")
    run.refresh_from_db()
    pinned_by, pinned_at = run.pinned_by_id, run.pinned_at
    unpinned = post(api_client, f"/api/calculations/{run.pk}/unpin")

    assert pinned.status_code == again.status_code == 200 and pinned.json()["pinned"] is True
    assert (pinned_by, pinned_at is not None) == (user.pk, True)
    assert unpinned.json()["pinned"] is False
    run.refresh_from_db()
    assert (run.pinned, run.pinned_by_id, run.pinned_at) == (False, None, None)


def test_pinning_an_unknown_job_is_a_404(api_client):
    assert post(api_client, "/api/calculations/999999/pin").status_code == 404
    assert post(api_client, "/api/functions/999999/unpin").status_code == 404


def test_lists_filter_by_creator_id_and_me(api_client, colleague_client, user):
    mine = post(api_client, "/api/calculations", RUN).json()["id"]
    theirs = post(colleague_client, "/api/calculations", RUN).json()["id"]

    by_me = api_client.get("/api/calculations", {"created_by": "me"}).json()
    by_id = api_client.get("/api/calculations", {"created_by": str(user.pk)}).json()
    by_them = colleague_client.get("/api/calculations", {"created_by": "me"}).json()

    assert [row["id"] for row in by_me["results"]] == [row["id"] for row in by_id["results"]] == [mine]
    assert by_me["count"] == 1
    assert [row["id"] for row in by_them["results"]] == [theirs]


@pytest.mark.parametrize("value", ["you", "-1", "0", "1.5", ""])
def test_a_bad_creator_filter_is_a_422_naming_the_field(api_client, value):
    response = api_client.get("/api/calculations", {"created_by": value})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "created_by"


def test_functions_carry_the_audit_trail_and_filter_by_creator(api_client, colleague_client, user):
    body = {"expression": "sin(t)", "dt": 1, "interval": 1}
    pk = post(api_client, "/api/functions", body).json()["id"]
    post(colleague_client, "/api/functions", body)
    post(colleague_client, f"/api/functions/{pk}/cancel")
    post(colleague_client, "/api/functions/refresh", {"ids": [pk]})
    pinned = post(api_client, f"/api/functions/{pk}/pin").json()

    assert pinned["created_by"] == {"id": user.pk, "username": "analyst", "token": "tests"}
    assert pinned["cancelled_by"]["username"] == "colleague"
    assert pinned["rerun_by"]["username"] == "colleague" and pinned["pinned"] is True
    listed = api_client.get("/api/functions", {"created_by": "me"}).json()
    assert [item["id"] for item in listed["results"]] == [pk]
    # The refresh put it in flight for the colleague: their quota, not the creator's.
    assert Function.objects.get(pk=pk).queued_by.username == "colleague"
    assert post(api_client, f"/api/functions/{pk}/unpin").json()["pinned"] is False
