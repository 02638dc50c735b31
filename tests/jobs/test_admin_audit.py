"""The audit trail, pins and quotas in the admin: shown, filtered, written to the admin log."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse

from apps.calculations.models import Calculation
from apps.charts.models import Function
from apps.jobs.models import JobStatus

pytestmark = pytest.mark.django_db

CALCULATIONS = reverse("admin:calculations_calculation_changelist")
FUNCTIONS = reverse("admin:charts_function_changelist")
ADD = reverse("admin:calculations_calculation_add")


def action(client, url: str, name: str, ids: list[int]) -> list[str]:
    response = client.post(url, {"action": name, "_selected_action": ids}, follow=True)
    return [str(message) for message in response.context["messages"]]


def test_an_add_records_the_admin_as_creator_and_the_list_shows_and_filters_it(
    admin_client, admin_user, user
):
    admin_client.post(ADD, {"name": "Mine", "date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": 7})
    Calculation.objects.create(
        name="Theirs",
        date_start="2020-01-01",
        date_fin="2020-01-02",
        lag=1,
        created_by=user,
        created_by_token="ci",
    )

    mine = Calculation.objects.get(name="Mine")
    listed = admin_client.get(CALCULATIONS).content.decode()
    filtered = admin_client.get(CALCULATIONS, {"created_by__id__exact": user.pk}).content.decode()
    page = admin_client.get(reverse("admin:calculations_calculation_change", args=[mine.pk])).content.decode()

    assert mine.created_by == admin_user and mine.created_by_token == ""
    assert "analyst (ci)" in listed and "field-creator" in listed
    assert "Theirs" in filtered and "Mine" not in filtered
    assert "Audit" in page and "Created by" in page


def test_pin_and_unpin_actions_keep_a_job_and_write_the_admin_log(admin_client, admin_user, make_calculation):
    finished, other = make_calculation(status=JobStatus.FINISHED), make_calculation(status=JobStatus.FAILED)

    pinned = action(admin_client, CALCULATIONS, "pin", [finished.pk, other.pk])
    again = action(admin_client, CALCULATIONS, "pin", [finished.pk])
    unpinned = action(admin_client, CALCULATIONS, "unpin", [other.pk])

    assert pinned == ["2 calculation(s) pinned: kept for ever."]
    assert again == ["0 calculation(s) pinned: kept for ever."]
    assert unpinned == ["1 calculation(s) unpinned: retention applies again."]
    finished.refresh_from_db()
    assert finished.pinned and finished.pinned_by == admin_user
    entries = LogEntry.objects.filter(object_id=str(other.pk)).order_by("pk")
    assert [(e.action_flag, e.change_message, e.user_id) for e in entries] == [
        (CHANGE, "Pinned.", admin_user.pk),
        (CHANGE, "Unpinned.", admin_user.pk),
    ]
    assert admin_client.get(CALCULATIONS, {"pinned__exact": "1"}).content.decode().count("field-pinned") >= 1


def test_cancel_records_who_and_logs_it(admin_client, admin_user, make_calculation):
    queued = make_calculation()

    action(admin_client, CALCULATIONS, "cancel", [queued.pk])

    queued.refresh_from_db()
    assert queued.cancelled_by == admin_user and queued.cancelled_at is not None
    assert LogEntry.objects.get(object_id=str(queued.pk)).change_message == "Cancelled."


def test_run_again_past_the_quota_is_refused_whole_with_the_reason(admin_client, settings, make_calculation):
    settings.CALCULATIONS_QUOTA_IN_FLIGHT = 1
    runs = [make_calculation(status=JobStatus.FINISHED) for _ in range(2)]

    refused = action(admin_client, CALCULATIONS, "run_again", [run.pk for run in runs])

    assert len(refused) == 1 and "at most 1 in flight" in refused[0]
    assert Calculation.objects.count() == 2
    assert not LogEntry.objects.exists()


def test_the_add_form_says_when_the_quota_is_reached(admin_client, settings, admin_user):
    settings.CALCULATIONS_QUOTA_IN_FLIGHT = 1
    Calculation.objects.create(
        name="in flight", date_start="2020-01-01", date_fin="2020-01-02", lag=1, queued_by=admin_user
    )

    response = admin_client.post(
        ADD, {"name": "One more", "date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": 7}
    )

    assert response.status_code == 200  # the form again, with the reason
    assert "Too many calculations queued or running" in response.content.decode()
    assert not Calculation.objects.filter(name="One more").exists()


def test_function_refresh_and_pin_in_the_admin(admin_client, admin_user, settings, make_function):
    functions = [make_function(status=JobStatus.FINISHED) for _ in range(2)]
    settings.CHARTS_QUOTA_IN_FLIGHT = 1

    refused = action(admin_client, FUNCTIONS, "refresh", [f.pk for f in functions])
    settings.CHARTS_QUOTA_IN_FLIGHT = 5
    refreshed = action(admin_client, FUNCTIONS, "refresh", [f.pk for f in functions])
    pinned = action(admin_client, FUNCTIONS, "pin", [functions[0].pk])

    assert "at most 1 in flight" in refused[0]
    assert refreshed[0].startswith("2 chart(s) queued")
    assert pinned == ["1 chart job(s) pinned: kept for ever."]
    first = Function.objects.get(pk=functions[0].pk)
    assert first.rerun_by == admin_user and first.pinned
    assert [e.change_message for e in LogEntry.objects.filter(object_id=str(first.pk)).order_by("pk")] == [
        "Refreshed.",
        "Pinned.",
    ]
    assert "field-creator" in admin_client.get(FUNCTIONS).content.decode()
