"""The production charts on a run's admin page and the Compare action (server side; the
browser side is tests/live/test_browser_production.py)."""

import json
import re
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.jobs.models import JobStatus

CHANGELIST = reverse("admin:calculations_calculation_changelist")
COMPARE = reverse("admin:calculations_calculation_compare")


def change_url(pk: int) -> str:
    return reverse("admin:calculations_calculation_change", args=[pk])


def json_script(html: str, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no #{element_id}"
    return json.loads(match.group(1))


def scripts(html: str) -> list[str]:
    return re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)


def test_a_finished_runs_page_has_the_chart_containers_summary_and_config(admin_client, make_finished):
    calculation = make_finished(date_start=date(2020, 1, 1), date_fin=date(2020, 3, 31), lag=7)
    html = admin_client.get(change_url(calculation.pk)).content.decode()
    config = json_script(html, "cb-calc-config")
    assert config == {
        "id": calculation.pk,
        "status": "finished",
        "error": "",
        "detailUrl": f"/api/calculations/{calculation.pk}?fields=name,summary",
        "stream": "calculations",
        "path": "/ws/events/",
        "lag": 7,
        "dateFin": "2020-03-31",
    }
    for chart in ("rates", "wct", "cumulative"):
        assert f'data-chart="{chart}"' in html
    assert 'id="cb-calc-summary"' in html
    assert re.search(r'id="cb-calc-progress" class="cb-calc-progress" hidden', html)
    assert f'href="/api/calculations/{calculation.pk}/chart.png"' in html
    assert 'data-axis="logarithmic"' in html


def test_the_page_loads_highcharts_and_its_scripts_from_this_site_only(admin_client, make_finished):
    calculation = make_finished(date_start=date(2020, 1, 1), date_fin=date(2020, 1, 31))
    html = admin_client.get(change_url(calculation.pk)).content.decode()
    sources = scripts(html)
    assert "/static/calcboard/vendor/highcharts/highcharts.js" in sources
    assert "/static/calcboard/calculation_charts.js" in sources
    assert all(source.startswith("/") and not source.startswith("//") for source in sources), sources
    # Highcharts (a classic script) comes before the module that uses it.
    assert sources.index("/static/calcboard/vendor/highcharts/highcharts.js") < sources.index(
        "/static/calcboard/calculation_charts.js"
    )


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING])
def test_an_unfinished_runs_page_shows_its_progress(admin_client, make_calculation, status):
    calculation = make_calculation(status=status, progress=40)
    html = admin_client.get(change_url(calculation.pk)).content.decode()
    assert json_script(html, "cb-calc-config")["status"] == status.value
    progress = html[html.index('id="cb-calc-progress"') : html.index('id="cb-calc-body"')]
    assert "hidden" not in progress.split(">", 1)[0]
    assert 'aria-valuenow="40"' in progress and f"cb-status-{status.value}" in progress
    assert re.search(r'id="cb-calc-error"[^>]* hidden', html)


def test_a_failed_runs_page_shows_its_error_instead_of_charts(admin_client, make_calculation):
    calculation = make_calculation(status=JobStatus.FAILED, error="Kernel: <boom> & bust")
    html = admin_client.get(change_url(calculation.pk)).content.decode()
    error = re.search(r'<p id="cb-calc-error"([^>]*)>(.*?)</p>', html, re.S)
    assert "hidden" not in error.group(1)
    assert error.group(2) == "Kernel: &lt;boom&gt; &amp; bust"


def test_an_unknown_runs_page_is_the_admins_usual_redirect(admin_client, db):
    response = admin_client.get(change_url(999_999))
    assert response.status_code == 302


# --- Compare ---------------------------------------------------------------------------


def compare(admin_client, ids):
    return admin_client.post(
        CHANGELIST, {"action": "compare_runs", "_selected_action": [str(pk) for pk in ids]}
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_compare_of_two_finished_runs_opens_the_compare_page(admin_client, make_finished):
    runs = [make_finished(date_fin=date(2020, 1, 31), name=f"Well {n}") for n in (1, 2)]
    response = compare(admin_client, [run.pk for run in runs])
    assert response.status_code == 302
    assert response["Location"] == f"{COMPARE}?ids={runs[0].pk},{runs[1].pk}"

    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert json_script(html, "cb-compare-config") == {
        "runs": [
            {"id": run.pk, "name": run.name, "detailUrl": f"/api/calculations/{run.pk}?fields=name,summary"}
            for run in runs
        ]
    }
    assert 'id="cb-compare-oil"' in html and 'id="cb-compare-wct"' in html
    assert "/static/calcboard/calculation_compare.js" in scripts(html)
    assert all(source.startswith("/") and not source.startswith("//") for source in scripts(html))
    assert "Compare 2 runs" in html
    assert "cb-compare-forecasts" not in html  # runs of the synthetic kernel: no forecast table


@pytest.mark.parametrize("count", [1, 9])
def test_compare_refuses_too_few_or_too_many_runs(admin_client, make_finished, make_calculation, count):
    runs = [make_calculation(status=JobStatus.FINISHED) for _ in range(count)]
    response = compare(admin_client, [run.pk for run in runs])
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    assert messages_of(response) == [f"Select from 2 to 8 finished runs to compare ({count} selected)."]


def test_compare_refuses_unfinished_runs_and_names_them(admin_client, make_finished, make_calculation):
    done = make_finished(date_fin=date(2020, 1, 31))
    busy = make_calculation(name="Busy well", status=JobStatus.RUNNING)
    response = compare(admin_client, [done.pk, busy.pk])
    assert response["Location"] == CHANGELIST
    assert messages_of(response) == ["Only finished runs can be compared; not finished: Busy well (running)."]


@pytest.mark.parametrize("ids", ["", "1,x", "1"])
def test_the_compare_page_checks_its_ids_too(admin_client, db, ids):
    response = admin_client.get(COMPARE, {"ids": ids})
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    assert messages_of(response)


def test_the_compare_page_refuses_runs_that_do_not_exist(admin_client, make_finished):
    run = make_finished(date_fin=date(2020, 1, 31))
    response = admin_client.get(COMPARE, {"ids": f"{run.pk},{2**63}"})
    assert response["Location"] == CHANGELIST
    assert messages_of(response) == [f"No calculation with id {2**63}."]


def test_compare_needs_the_view_permission(make_finished, db):
    runs = [make_finished(date_fin=date(2020, 1, 31)) for _ in range(2)]
    user = get_user_model().objects.create_user(
        username="staff-no-perm", password="x-pass-123", is_staff=True
    )
    client = Client()
    client.force_login(user)
    assert client.get(COMPARE, {"ids": f"{runs[0].pk},{runs[1].pk}"}).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_calculation"))
    client.force_login(get_user_model().objects.get(pk=user.pk))
    assert client.get(COMPARE, {"ids": f"{runs[0].pk},{runs[1].pk}"}).status_code == 200
    changelist = client.get(CHANGELIST).content.decode()
    assert 'value="compare_runs"' in changelist


def test_a_well_runs_page_adds_the_forecast_charts_and_reads_the_wells_history(admin_client, db):
    from apps.calculations.services import calculation_create, calculation_run
    from apps.wells.services import well_create
    from tests.calculations.forecast.synthetic import water_drive_well
    from tests.calculations.test_well_runs import store_history

    well = well_create(name="W-7", field="West")
    store_history(well, water_drive_well(days=400, seed=5))
    created = calculation_create(
        date_start=date(2015, 1, 1), date_fin=date(2016, 12, 31), lag=30, well=well.pk
    )
    calculation_run(calculation_id=created.pk)
    html = admin_client.get(change_url(created.pk)).content.decode()
    config = json_script(html, "cb-calc-config")
    assert config["detailUrl"] == f"/api/calculations/{created.pk}?fields=name,summary,forecast"
    assert config["historyUrl"] == f"/api/wells/{well.pk}/history?resample=month"
    for chart in ("forecast", "rate-cum", "wct-history", "chan"):
        assert f'data-chart="{chart}"' in html
    sources = scripts(html)
    assert "/static/calcboard/vendor/highcharts/highcharts-more.js" in sources
    assert "/static/calcboard/well_forecast_charts.js" in sources
    assert "/static/calcboard/calculation_charts.js" not in sources  # imported by the forecast module


def test_a_kernel_runs_page_has_no_forecast_section(admin_client, make_finished):
    html = admin_client.get(change_url(make_finished(date_fin=date(2020, 1, 31)).pk)).content.decode()
    assert 'id="cb-forecast"' not in html and "well_forecast_charts.js" not in html
