"""History imports follow the job kinds' shared mechanisms: the per-user quota of imports in
flight (429 with Retry-After, in the API and the admin), the audit trail (who uploaded, with
which token, who cancelled) and pins that retention respects."""

import json
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from apps.jobs.models import JobStatus
from apps.jobs.retention import jobs_purge
from apps.wells.models import HistoryImport
from apps.wells.services import HISTORY_IMPORT_JOB, history_import_run, well_create
from tests.conftest import permissions_grant
from tests.wells.conftest import csv_bytes

pytestmark = pytest.mark.django_db

FILE = csv_bytes("2020-01-01,1,1,,24")


def post_file(client: Client, url: str):
    return client.post(url, FILE, content_type="text/csv")


def test_an_import_past_the_users_quota_is_a_429_with_retry_after(api_client, settings):
    settings.WELLS_QUOTA_IN_FLIGHT = 1
    first, second = well_create(name="A-1", field="North"), well_create(name="A-2", field="North")
    assert post_file(api_client, f"/api/wells/{first.pk}/history").status_code == 202

    refused = post_file(api_client, f"/api/wells/{second.pk}/history")
    multi = api_client.post("/api/wells/import?field=East", b"well," + FILE, content_type="text/csv")

    for response in (refused, multi):
        assert response.status_code == 429, response.content
        assert response["Retry-After"] == "30"
        body = json.loads(response.content)
        assert set(body) == {"detail", "errors"} and body["errors"][0]["rule"] == "quota"
        assert "at most 1 in flight" in body["detail"]
    assert HistoryImport.objects.count() == 1


def test_ended_imports_free_their_place_in_the_quota(api_client, settings):
    settings.WELLS_QUOTA_IN_FLIGHT = 1
    well = well_create(name="A-1", field="North")
    accepted = json.loads(post_file(api_client, f"/api/wells/{well.pk}/history").content)
    history_import_run(import_id=accepted["id"])

    assert post_file(api_client, f"/api/wells/{well.pk}/history").status_code == 202


def test_an_import_records_its_uploader_token_and_canceller(api_client, user):
    well = well_create(name="A-1", field="North")
    accepted = json.loads(post_file(api_client, f"/api/wells/{well.pk}/history").content)
    expected = {"id": user.pk, "username": "analyst", "token": "tests"}
    assert (
        accepted["created_by"] == expected and "cancelled_by" not in accepted and accepted["pinned"] is False
    )

    cancelled = json.loads(api_client.post(f"/api/imports/{accepted['id']}/cancel").content)

    assert cancelled["status"] == "cancelled" and cancelled["cancelled_by"] == {
        "id": user.pk,
        "username": "analyst",
    }
    detail = json.loads(api_client.get(f"/api/imports/{accepted['id']}").content)
    assert detail["created_by"] == expected and detail["cancelled_by"]["id"] == user.pk
    stored = HistoryImport.objects.get(pk=accepted["id"])
    assert (stored.queued_by_id, stored.cancelled_at is not None) == (user.pk, True)


def test_a_session_upload_has_no_token_name(user):
    client = Client()
    client.force_login(user)
    well = well_create(name="A-1", field="North")
    accepted = json.loads(post_file(client, f"/api/wells/{well.pk}/history").content)
    assert accepted["created_by"] == {"id": user.pk, "username": "analyst"}


def test_pin_and_unpin_record_who_and_retention_keeps_pinned_imports(api_client, user):
    well = well_create(name="A-1", field="North")
    ids = []
    for _ in range(2):
        accepted = json.loads(post_file(api_client, f"/api/wells/{well.pk}/history").content)
        history_import_run(import_id=accepted["id"])
        ids.append(accepted["id"])
    old, kept = ids

    pinned = api_client.post(f"/api/imports/{kept}/pin")
    api_client.post(f"/api/imports/{old}/pin")
    unpinned = api_client.post(f"/api/imports/{old}/unpin")

    assert pinned.status_code == unpinned.status_code == 200
    assert json.loads(pinned.content)["pinned"] is True and json.loads(unpinned.content)["pinned"] is False
    stored = HistoryImport.objects.get(pk=kept)
    assert (stored.pinned_by_id, stored.pinned_at is not None) == (user.pk, True)
    HistoryImport.objects.update(finished_at=timezone.now() - timedelta(days=365))

    result = jobs_purge(kind=HISTORY_IMPORT_JOB)

    assert result.jobs == 1
    assert list(HistoryImport.objects.values_list("pk", flat=True)) == [kept]
    assert api_client.post("/api/imports/999999/pin").status_code == 404


def test_pinning_an_import_needs_the_change_permission(user):
    viewer = get_user_model().objects.create_user(username="viewer", password="viewer-pass-123")
    permissions_grant(viewer, "view")
    client = Client()
    client.force_login(viewer)
    well = well_create(name="A-1", field="North")
    analyst = Client()
    analyst.force_login(user)
    accepted = json.loads(post_file(analyst, f"/api/wells/{well.pk}/history").content)

    assert client.post(f"/api/imports/{accepted['id']}/pin").status_code == 403
    assert HistoryImport.objects.get(pk=accepted["id"]).pinned is False


@pytest.fixture
def boss() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser(username="boss", password="x"))
    return client


def test_the_admin_upload_says_when_the_quota_is_reached(boss, settings):
    settings.WELLS_QUOTA_IN_FLIGHT = 1
    first, second = well_create(name="A-1", field="North"), well_create(name="A-2", field="North")
    for well in (first, second):
        upload = SimpleUploadedFile("more.csv", FILE, content_type="text/csv")
        response = boss.post(
            f"/admin/wells/well/{well.pk}/upload/", {"file": upload, "mode": "append"}, follow=True
        )
    field_upload = boss.post(
        "/admin/wells/well/upload/",
        {"field": "East", "file": SimpleUploadedFile("f.csv", b"well," + FILE), "mode": "append"},
        follow=True,
    )

    for refused in (response, field_upload):
        text = refused.content.decode()
        assert "Upload refused" in text and "at most 1 in flight" in text
    assert HistoryImport.objects.count() == 1


def test_the_admin_shows_the_audit_trail_and_pins_cancels_with_log_entries(boss):
    well = well_create(name="A-1", field="North")
    upload = SimpleUploadedFile("more.csv", FILE, content_type="text/csv")
    boss.post(f"/admin/wells/well/{well.pk}/upload/", {"file": upload, "mode": "append"})
    created = HistoryImport.objects.get()
    assert created.created_by.username == "boss" and created.created_by_token == ""

    pinned = boss.post(
        "/admin/wells/historyimport/", {"action": "pin", "_selected_action": [created.pk]}, follow=True
    )
    cancelled = boss.post(
        "/admin/wells/historyimport/", {"action": "cancel", "_selected_action": [created.pk]}, follow=True
    )

    assert "1 import(s) pinned: kept for ever." in pinned.content.decode()
    assert "1 import(s) cancelled." in cancelled.content.decode()
    created.refresh_from_db()
    assert (created.pinned, created.pinned_by.username, created.status) == (True, "boss", JobStatus.CANCELLED)
    assert created.cancelled_by.username == "boss"
    logged = LogEntry.objects.filter(object_id=str(created.pk)).values_list("change_message", flat=True)
    assert sorted(logged) == ["Cancelled.", "Pinned."]
    listing = boss.get("/admin/wells/historyimport/", {"created_by__id__exact": created.created_by_id})
    assert listing.status_code == 200 and "boss" in listing.content.decode()
    page = boss.get(f"/admin/wells/historyimport/{created.pk}/change/").content.decode()
    assert "Cancelled by" in page and "Pinned by" in page

    unpinned = boss.post(
        "/admin/wells/historyimport/", {"action": "unpin", "_selected_action": [created.pk]}, follow=True
    )
    assert "1 import(s) unpinned" in unpinned.content.decode()
