import re
from datetime import date

import pytest
from django.urls import reverse

from apps.calculations.models import Calculation
from apps.jobs.models import JobStatus
from tests.conftest import ScratchQueue
from tests.spies import spy

CHANGELIST = reverse("admin:calculations_calculation_changelist")


def cell(html: str, pk: int, column: str) -> str:
    """The contents of one changelist cell, found the way the live widget finds it."""
    row = re.search(rf'<tr>(?:(?!</tr>).)*value="{pk}"(?:(?!</tr>).)*</tr>', html, re.S)
    assert row, f"no row for {pk}"
    match = re.search(rf'<t[dh] class="field-{column}[^"]*">(.*?)</t[dh]>', row.group(0), re.S)
    assert match, f"no {column} cell"
    return match.group(1)


def test_the_list_shows_name_status_progress_launch_date_and_duration(
    admin_client, make_calculation, make_finished
):
    running = make_calculation(name="Running well", status=JobStatus.RUNNING, progress=42)
    finished = make_finished(name="Finished well", date_fin=date(2020, 1, 31))
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Running well" in cell(html, running.pk, "name")
    assert cell(html, running.pk, "status") == "Running"
    assert '<progress value="42" max="100"></progress>' in cell(html, running.pk, "progress")
    assert "42%" in cell(html, running.pk, "progress")
    assert cell(html, running.pk, "duration") == "-"
    assert cell(html, finished.pk, "duration") == f"{finished.duration:.3f} s"
    assert cell(html, finished.pk, "launched_at")


def test_the_list_filters_by_status_and_searches_by_name(admin_client, make_calculation):
    make_calculation(name="North field", status=JobStatus.FAILED)
    make_calculation(name="South field", status=JobStatus.QUEUED)
    failed = admin_client.get(CHANGELIST, {"status__exact": "failed"}).content.decode()
    assert "North field" in failed and "South field" not in failed
    found = admin_client.get(CHANGELIST, {"q": "south"}).content.decode()
    assert "South field" in found and "North field" not in found


def test_a_run_page_shows_its_inputs_and_rows_read_only(admin_client, make_finished):
    calculation = make_finished(name="Well 7", date_fin=date(2020, 1, 10), lag=3)
    response = admin_client.get(reverse("admin:calculations_calculation_change", args=[calculation.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Well 7" in html and "Jan. 1, 2020" in html and "Jan. 10, 2020" in html
    assert "<input" not in re.sub(
        r'<input type="hidden"[^>]*>', "", html.split('id="content-main"')[1].split("</form>")[0]
    )
    assert "Showing 4 of 4 rows." in html
    assert html.count("<tr><td>2020-01-") == 4
    assert f'href="/api/calculations/{calculation.pk}/result.csv"' in html


def test_a_long_result_is_cut_on_the_page_with_the_csv_for_the_rest(admin_client, make_finished):
    calculation = make_finished(date_fin=date(2021, 12, 31))
    html = admin_client.get(
        reverse("admin:calculations_calculation_change", args=[calculation.pk])
    ).content.decode()
    assert "Showing 500 of 731 rows." in html


def test_an_unfinished_run_page_says_there_are_no_rows_yet(admin_client, make_calculation):
    calculation = make_calculation(status=JobStatus.FAILED, error="The calculation failed: boom")
    html = admin_client.get(
        reverse("admin:calculations_calculation_change", args=[calculation.pk])
    ).content.decode()
    assert "No rows yet" in html and "The calculation failed: boom" in html


def test_a_finished_run_without_rows_says_so(admin_client, make_calculation):
    calculation = make_calculation(status=JobStatus.FINISHED)
    html = admin_client.get(
        reverse("admin:calculations_calculation_change", args=[calculation.pk])
    ).content.decode()
    assert "No rows." in html


ADD = reverse("admin:calculations_calculation_add")


@pytest.fixture
def published(scratch_queues) -> ScratchQueue:
    """Runs are published to the real broker, on a queue no worker consumes."""
    return scratch_queues.calculations


def test_the_add_form_queues_a_run_after_the_save_commits(
    admin_client, published, django_capture_on_commit_callbacks
):
    form = admin_client.get(ADD)
    assert form.status_code == 200
    html = form.content.decode()
    assert all(f'name="{field}"' in html for field in ("name", "date_start", "date_fin", "lag"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            ADD, {"name": "", "date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": 7}
        )
        assert published.message_count() == 0  # nothing leaves before the commit
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    for callback in callbacks:
        callback()
    calculation = Calculation.objects.get()
    assert (calculation.name, calculation.status, calculation.lag) == (
        "2020-01-01 to 2020-01-31, every 7 days",
        "queued",
        7,
    )
    assert published.job_ids() == [calculation.pk] and calculation.dispatched_at is not None


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"date_start": "2020-02-01", "date_fin": "2020-01-01", "lag": 1},
            "date_fin",
            "date_fin must be on or after date_start.",
        ),
        (
            {"date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": 0},
            "lag",
            "lag must be at least 1 day.",
        ),
        (
            {"date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": 4000},
            "lag",
            "lag must be at most 3650 days.",
        ),
        ({"date_start": "1900-01-01", "date_fin": "2200-01-01", "lag": 1}, "date_fin", "the limit is 100000"),
    ],
)
def test_the_add_form_refuses_what_the_api_refuses_with_its_messages(admin_client, data, field, message):
    response = admin_client.post(ADD, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(message in error for error in errors[field])
    assert not Calculation.objects.exists()


def test_a_stored_run_cannot_be_edited(admin_client, make_calculation):
    calculation = make_calculation(name="Fixed")
    change = reverse("admin:calculations_calculation_change", args=[calculation.pk])
    admin_client.post(change, {"name": "Changed", "lag": 2})
    calculation.refresh_from_db()
    assert calculation.name == "Fixed"


def test_the_cancel_action_cancels_queued_and_running_runs_and_counts_the_rest(
    admin_client, make_calculation
):
    queued, running = make_calculation(), make_calculation(status=JobStatus.RUNNING)
    finished = make_calculation(status=JobStatus.FINISHED)
    response = admin_client.post(
        CHANGELIST,
        {"action": "cancel", "_selected_action": [queued.pk, running.pk, finished.pk]},
        follow=True,
    )
    messages = [str(message) for message in response.context["messages"]]
    assert messages == ["2 calculation(s) cancelled. 1 skipped: already finished, failed or cancelled."]
    statuses = dict(Calculation.objects.values_list("pk", "status"))
    assert statuses == {queued.pk: "cancelled", running.pk: "cancelled", finished.pk: "finished"}


def test_the_run_again_action_queues_a_copy_of_each_selected_run(
    admin_client, make_calculation, published, django_capture_on_commit_callbacks
):
    first, second = make_calculation(name="A", status=JobStatus.FAILED), make_calculation(name="B")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST, {"action": "run_again", "_selected_action": [first.pk, second.pk]}, follow=True
        )
    assert [str(message) for message in response.context["messages"]] == [
        "2 calculation(s) queued again with the same inputs."
    ]
    copies = Calculation.objects.exclude(pk__in=[first.pk, second.pk]).order_by("pk")
    assert [copy.name for copy in copies] == ["A (re-run)", "B (re-run)"]
    assert sorted(published.job_ids()) == [copy.pk for copy in copies]


def test_a_run_can_be_deleted_with_its_rows(admin_client, make_finished):
    calculation = make_finished(date_fin=date(2020, 1, 5))
    delete = reverse("admin:calculations_calculation_delete", args=[calculation.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not type(calculation).objects.filter(pk=calculation.pk).exists()


@pytest.mark.parametrize("path", [CHANGELIST])
def test_the_admin_requires_a_staff_login(client, user, path):
    response = client.get(path)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(user)  # an active user who is not staff
    assert client.get(path).status_code == 302


def test_an_add_validates_the_inputs_once(admin_client, monkeypatch):
    from apps.calculations import admin as calculations_admin
    from apps.calculations import services

    calls = spy(monkeypatch, services.calculation_validate, services, calculations_admin)
    response = admin_client.post(
        ADD, {"name": "Well 7", "date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": 7}
    )
    assert response.status_code == 302 and Calculation.objects.get().name == "Well 7"
    assert len(calls) == 1
