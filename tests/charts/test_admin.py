"""The functions dashboard in the admin: list, Add with presets, the Refresh action."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.charts.models import Function
from tests.conftest import ScratchQueue
from tests.spies import spy

LIST_URL = "/admin/charts/function/"
ADD_URL = "/admin/charts/function/add/"


@pytest.fixture(autouse=True)
def published(scratch_queues) -> ScratchQueue:
    """Tasks go to the real broker, on a queue no worker consumes, where the test reads them."""
    return scratch_queues.charts


def cell(html: str, pk: int, field: str) -> str:
    """The content of the `td.field-<field>` cell of row `pk`."""
    rows = [row for row in html.split("<tr") if f'name="_selected_action" value="{pk}"' in row]
    assert len(rows) == 1, f"row {pk} not in the list"
    match = re.search(rf'<(?:td|th) class="field-{field}[^"]*">(.*?)</(?:td|th)>', rows[0], re.DOTALL)
    assert match, f"no field-{field} cell in row {pk}"
    return match.group(1)


@pytest.mark.django_db
def test_the_list_shows_thumbnails_errors_and_parameters_without_loading_images(staff_client, make_function):
    from django.utils import timezone

    charted = make_function("t + 2/t", status="finished", dt=2, interval=7, processed_at=timezone.now())
    broken = make_function("ln(t - t)", status="failed", error="Data service: logarithm of zero at t=17")
    waiting = make_function("sin(t)", status="queued")

    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(LIST_URL)

    assert response.status_code == 200
    html = response.content.decode()
    url = f"/charts/{charted.pk}/{charted.image_hash[:16]}.png"
    assert f'<a href="{url}" target="_blank"' in cell(html, charted.pk, "chart")
    assert f'<img src="{url}"' in cell(html, charted.pk, "chart")
    assert "Data service: logarithm of zero at t=17" in cell(html, broken.pk, "chart")
    assert "<img" not in cell(html, broken.pk, "chart")
    assert "Waiting for a worker" in cell(html, waiting.pk, "chart")
    assert (
        cell(html, charted.pk, "dt").strip() == "2.0" and cell(html, charted.pk, "interval").strip() == "7.0"
    )
    assert "Finished" in cell(html, charted.pk, "status") and "Failed" in cell(html, broken.pk, "status")
    assert cell(html, waiting.pk, "processed_at").strip() == "-"
    assert 'href="/admin/charts/function/add/"' in html
    assert not any(
        '"charts_function"."image",' in q["sql"] or '"charts_function"."image" ' in q["sql"]
        for q in queries.captured_queries
    )


@pytest.mark.django_db
def test_the_add_form_offers_both_presets(staff_client):
    html = staff_client.get(ADD_URL).content.decode()
    assert '<option value="t + 2/t" selected>y = t + 2/t</option>' in html
    assert '<option value="sin(t)">y = sin(t)</option>' in html
    assert 'name="expression"' in html and 'name="dt"' in html and 'name="interval"' in html


@pytest.mark.django_db
def test_adding_a_preset_stores_a_queued_row_and_returns_to_the_list(
    staff_client, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            ADD_URL, {"preset": "sin(t)", "expression": "", "dt": "0.5", "interval": "3"}
        )
    assert response.status_code == 302 and response["Location"] == LIST_URL
    function = Function.objects.get()
    assert (function.expression, function.dt, function.interval, function.status) == (
        "sin(t)",
        0.5,
        3,
        "queued",
    )
    assert published.job_ids() == [function.pk]
    listed = staff_client.get(LIST_URL).content.decode()
    assert f'value="{function.pk}"' in listed


@pytest.mark.django_db
def test_a_typed_expression_wins_over_the_preset(staff_client):
    staff_client.post(ADD_URL, {"preset": "t + 2/t", "expression": "t^2 + 2/t", "dt": "1", "interval": "30"})
    assert Function.objects.get().expression == "t^2 + 2/t"


@pytest.mark.django_db
def test_a_malformed_expression_is_shown_on_its_field_with_the_position(staff_client):
    response = staff_client.post(ADD_URL, {"preset": "", "expression": "sin(t", "dt": "1", "interval": "30"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "missing ')' at position 5" in errors["expression"][0]
    assert not Function.objects.exists()


@pytest.mark.django_db
def test_custom_without_an_expression_is_refused(staff_client):
    response = staff_client.post(ADD_URL, {"preset": "", "expression": "", "dt": "1", "interval": "30"})
    assert "expression" in response.context["adminform"].form.errors


@pytest.mark.django_db
def test_too_many_points_and_bad_numbers_are_form_errors(staff_client):
    response = staff_client.post(ADD_URL, {"preset": "sin(t)", "dt": "0.01", "interval": "3650"})
    assert "100000" in str(response.context["adminform"].form.non_field_errors())
    response = staff_client.post(ADD_URL, {"preset": "sin(t)", "dt": "-1", "interval": "abc"})
    errors = response.context["adminform"].form.errors
    assert "interval" in errors
    response = staff_client.post(ADD_URL, {"preset": "sin(t)", "dt": "-1", "interval": "1"})
    assert "dt" in response.context["adminform"].form.errors
    assert not Function.objects.exists()


@pytest.mark.django_db
def test_refresh_action_queues_the_selection_and_reports_skipped_rows(
    staff_client, make_function, published, django_capture_on_commit_callbacks
):
    done, failed, running = (
        make_function(status="finished"),
        make_function(status="failed"),
        make_function(status="running"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            LIST_URL, {"action": "refresh", "_selected_action": [done.pk, failed.pk, running.pk]}, follow=True
        )
    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["2 chart(s) queued for refresh. 1 skipped: already queued or running."]
    assert sorted(published.job_ids()) == sorted([done.pk, failed.pk])
    assert Function.objects.get(pk=done.pk).status == "queued"


@pytest.mark.django_db
def test_the_action_is_labelled_refresh(staff_client, make_function):
    make_function()
    html = staff_client.get(LIST_URL).content.decode()
    assert '<option value="refresh">Refresh</option>' in html


@pytest.mark.django_db
def test_a_stored_function_opens_read_only_with_its_full_chart(staff_client, make_function):
    function = make_function(status="finished")
    response = staff_client.get(f"/admin/charts/function/{function.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'src="/charts/{function.pk}/{function.image_hash[:16]}.png"' in html
    assert 'name="_save"' not in html
    waiting = make_function(status="queued")
    assert (
        "No chart yet." in staff_client.get(f"/admin/charts/function/{waiting.pk}/change/").content.decode()
    )


@pytest.mark.django_db
def test_a_user_who_is_not_staff_cannot_open_the_list(plain_client):
    response = plain_client.get(LIST_URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_cancel_action_cancels_queued_and_running_charts_and_counts_the_rest(staff_client, make_function):
    queued, running, finished = (
        make_function(status="queued"),
        make_function(status="running"),
        make_function(),
    )
    response = staff_client.post(
        LIST_URL, {"action": "cancel", "_selected_action": [queued.pk, running.pk, finished.pk]}, follow=True
    )
    assert [str(message) for message in response.context["messages"]] == [
        "2 chart job(s) cancelled. 1 skipped: already finished, failed or cancelled."
    ]
    statuses = dict(Function.objects.values_list("pk", "status"))
    assert statuses == {queued.pk: "cancelled", running.pk: "cancelled", finished.pk: "finished"}


@pytest.mark.django_db
def test_an_add_validates_the_inputs_once(staff_client, monkeypatch):
    from apps.charts import admin as charts_admin
    from apps.charts import services

    calls = spy(monkeypatch, services.function_validate, services, charts_admin)
    response = staff_client.post(
        ADD_URL, {"preset": "sin(t)", "expression": "", "dt": "0.5", "interval": "3"}
    )
    assert response.status_code == 302 and Function.objects.count() == 1
    assert calls == [{"expression": "sin(t)", "dt": 0.5, "interval": 3.0}]


def test_a_cancel_with_nothing_to_skip_says_only_the_count(staff_client, make_function):
    queued = make_function(status="queued")
    response = staff_client.post(LIST_URL, {"action": "cancel", "_selected_action": [queued.pk]}, follow=True)
    assert [str(message) for message in response.context["messages"]] == ["1 chart job(s) cancelled."]
