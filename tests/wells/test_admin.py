"""The wells admin: the list with its figures and upload form, a well's page with its charts'
config, upload form and imports, an import's page with its problems, Cancel."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.jobs.models import JobStatus
from apps.wells.models import HistoryImport, Well
from apps.wells.services import history_import_create, history_import_run, well_create
from tests.wells.conftest import csv_bytes


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser(username="boss", password="x"))
    return client


@pytest.fixture
def well_with_history(db) -> Well:
    well = well_create(name="A-1", field="North")
    accepted = history_import_create(
        stream=[csv_bytes("2020-01-01,100,25,,24", "2020-01-02,100,25,,24")], well_id=well.pk
    )
    history_import_run(import_id=accepted.pk)
    well.refresh_from_db()
    return well


def test_the_wells_list_shows_the_figures_and_filters_by_field(admin_client, well_with_history):
    well_create(name="B-1", field="South")
    page = admin_client.get("/admin/wells/well/", {"field__id__exact": well_with_history.field_id})
    text = page.content.decode()
    assert page.status_code == 200 and "A-1" in text and "B-1" not in text
    assert "200" in text and "100.0" in text and "20.0" in text  # cum. oil, oil rate, water cut %
    assert "Import a multi-well file" in text
    assert "A-1" in admin_client.get("/admin/wells/well/", {"q": "a-"}).content.decode()


def test_a_wells_page_carries_its_chart_config_upload_form_and_imports(admin_client, well_with_history):
    page = admin_client.get(f"/admin/wells/well/{well_with_history.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    config = json.loads(text.split('id="cb-well-config" type="application/json">')[1].split("</script>")[0])
    assert config == {
        "id": well_with_history.pk,
        "name": "A-1",
        "frequency": "daily",
        "records": 2,
        "historyUrl": f"/api/wells/{well_with_history.pk}/history",
    }
    assert "calcboard/well_charts.js" in text and 'data-chart="rates"' in text
    assert "Import history" in text and "Imports" in text and "Finished" in text


def test_an_upload_on_a_wells_page_queues_an_import(admin_client, well_with_history):
    upload = SimpleUploadedFile("more.csv", csv_bytes("2020-01-03,90,30,,24"), content_type="text/csv")
    response = admin_client.post(
        f"/admin/wells/well/{well_with_history.pk}/upload/",
        {"file": upload, "mode": "append", "columns": "", "date_format": ""},
    )
    created = HistoryImport.objects.latest("pk")
    assert (
        response.status_code == 302
        and response["Location"] == f"/admin/wells/historyimport/{created.pk}/change/"
    )
    assert (created.status, created.file_name, created.well_id) == (
        JobStatus.QUEUED,
        "more.csv",
        well_with_history.pk,
    )


def test_a_refused_upload_says_why_and_queues_nothing(admin_client, well_with_history):
    upload = SimpleUploadedFile("more.csv", csv_bytes("2020-01-03,90,30,,24"), content_type="text/csv")
    response = admin_client.post(
        f"/admin/wells/well/{well_with_history.pk}/upload/",
        {"file": upload, "mode": "append", "columns": "nope"},
        follow=True,
    )
    assert "Upload refused" in response.content.decode()
    assert HistoryImport.objects.count() == 1


def test_a_multi_well_upload_on_the_list_creates_the_wells(admin_client, db):
    upload = SimpleUploadedFile(
        "field.csv", csv_bytes("X-1,2020-01-01,1,1,,24", header="well,date,oil,water,gas,hours_on\n")
    )
    response = admin_client.post(
        "/admin/wells/well/upload/", {"file": upload, "mode": "append", "field": "East"}
    )
    assert response.status_code == 302
    created = HistoryImport.objects.get()
    history_import_run(import_id=created.pk)
    assert Well.objects.get(field__name="East").name == "X-1"


def test_an_imports_page_lists_its_problems(admin_client, well_with_history):
    accepted = history_import_create(stream=[csv_bytes("2020-02-01,-1,0,,24")], well_id=well_with_history.pk)
    history_import_run(import_id=accepted.pk)
    text = admin_client.get(f"/admin/wells/historyimport/{accepted.pk}/change/").content.decode()
    assert "line 2, column oil: must be &gt;= 0, got -1" in text and "1 problem(s) in all." in text


def test_the_cancel_action_cancels_queued_imports(admin_client, well_with_history):
    accepted = history_import_create(stream=[csv_bytes("2020-02-01,1,0,,24")], well_id=well_with_history.pk)
    done = HistoryImport.objects.exclude(pk=accepted.pk).get()
    response = admin_client.post(
        "/admin/wells/historyimport/",
        {"action": "cancel", "_selected_action": [accepted.pk, done.pk]},
        follow=True,
    )
    assert "1 import(s) cancelled. 1 skipped" in response.content.decode()
    accepted.refresh_from_db()
    assert accepted.status == JobStatus.CANCELLED and not accepted.chunks.exists()


@pytest.fixture
def viewer_client(db) -> Client:
    from django.contrib.auth.models import Permission

    viewer = get_user_model().objects.create_user(username="viewer", password="x", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_well", "view_historyimport"]))
    client = Client()
    client.force_login(viewer)
    return client


def test_a_view_only_user_sees_no_upload_form_and_may_not_upload(viewer_client, well_with_history):
    listing = viewer_client.get("/admin/wells/well/").content.decode()
    assert "A-1" in listing and "Import a multi-well file" not in listing
    page = viewer_client.get(f"/admin/wells/well/{well_with_history.pk}/change/").content.decode()
    assert "cb-well-config" in page and "Import history" not in page
    upload = SimpleUploadedFile("x.csv", csv_bytes("2020-01-03,1,1,,24"))
    assert (
        viewer_client.post(f"/admin/wells/well/{well_with_history.pk}/upload/", {"file": upload}).status_code
        == 403
    )
    assert viewer_client.post("/admin/wells/well/upload/", {"file": upload, "field": "N"}).status_code == 403


def test_an_upload_page_only_takes_posts(admin_client, well_with_history):
    assert admin_client.get(f"/admin/wells/well/{well_with_history.pk}/upload/").status_code == 403
    assert admin_client.get("/admin/wells/well/upload/").status_code == 403


def test_a_refused_multi_well_upload_says_why(admin_client, db):
    response = admin_client.post(
        "/admin/wells/well/upload/", {"mode": "append", "field": "East"}, follow=True
    )
    assert "Upload refused: file: This field is required." in response.content.decode()
    assert not HistoryImport.objects.exists()


def test_a_well_without_history_invites_an_upload(admin_client, db):
    well = well_create(name="Empty", field="North")
    page = admin_client.get(f"/admin/wells/well/{well.pk}/change/").content.decode()
    assert "No history yet" in page and 'data-chart="rates"' not in page
    assert admin_client.get("/admin/wells/historyimport/").status_code == 200
