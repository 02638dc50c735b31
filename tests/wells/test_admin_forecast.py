"""The wells list's "Forecast the selected wells": the form, the runs through the API's service,
the admin log, the permission and the quota."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from apps.calculations.models import Calculation
from apps.calculations.selectors import well_forecasts
from apps.calculations.services import calculation_run, calculations_forecast_wells
from apps.jobs.models import JobStatus
from apps.wells.models import Well
from apps.wells.services import well_create
from tests.calculations.forecast.synthetic import water_drive_well
from tests.calculations.test_well_runs import store_history

CHANGELIST = "/admin/wells/well/"
OPTIONS = {"date_start": "2015-01-01", "date_fin": "2030-12-31", "lag": "30", "method": "arps"}


def staff_client(*codenames: str) -> Client:
    staff = get_user_model().objects.create_user(username="engineer", password="x", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def forecaster(db) -> Client:
    return staff_client("view_well", "change_well", "add_calculation", "view_calculation")


@pytest.fixture
def wells(db) -> list[Well]:
    found = []
    for name, seed in [("W-1", 5), ("W-2", 6)]:
        well = well_create(name=name, field="West")
        store_history(well, water_drive_well(days=1200, seed=seed))
        found.append(well)
    return found


def forecast(client: Client, wells: list[Well], **data: str):
    payload = {"action": "forecast", "_selected_action": [well.pk for well in wells], **data}
    return client.post(CHANGELIST, payload, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_action_asks_for_the_dates_and_model_options_first(forecaster, wells):
    response = forecast(forecaster, wells)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Forecast the selected wells" in html and "W-1" in html and "W-2" in html
    assert 'name="date_start"' in html and 'name="method"' in html and 'name="economic_limit"' in html
    assert not Calculation.objects.exists()


def test_it_queues_one_well_run_per_well_with_the_options_and_logs_each_well(forecaster, wells):
    response = forecast(forecaster, wells, apply="1", economic_limit="2", fit_from="2016-01-01", **OPTIONS)
    assert messages_of(response) == ["2 forecast run(s) queued, one per well."]
    runs = list(Calculation.objects.order_by("well__name"))
    assert [run.well_id for run in runs] == [well.pk for well in wells]
    assert all(run.status == JobStatus.QUEUED for run in runs)
    assert all(run.model["method"] == "arps" and run.model["economic_limit"] == 2.0 for run in runs)
    assert all(run.model["fit_from"] == "2016-01-01" and run.model["fit_to"] is None for run in runs)
    entries = {entry.object_id: entry.change_message for entry in LogEntry.objects.all()}
    assert entries == {
        str(well.pk): f"Forecast queued: run {run.pk}." for well, run in zip(wells, runs, strict=True)
    }


def test_a_form_with_bad_input_is_shown_again_with_its_errors(forecaster, wells):
    response = forecast(forecaster, wells, apply="1", **{**OPTIONS, "lag": "0", "date_fin": "not a date"})
    html = response.content.decode()
    assert "errorlist" in html and "Enter a valid date." in html
    assert not Calculation.objects.exists()


def test_what_the_service_refuses_is_a_message_and_nothing_is_queued(forecaster, wells):
    empty = well_create(name="E-0", field="West")
    response = forecast(forecaster, [*wells, empty], apply="1", **OPTIONS)
    [message] = messages_of(response)
    assert message.startswith("Forecast refused: Well ") and "history" in message
    assert not Calculation.objects.exists() and not LogEntry.objects.exists()


def test_a_forecast_past_the_quota_is_refused_whole_with_the_reason(forecaster, wells, settings):
    settings.CALCULATIONS_QUOTA_IN_FLIGHT = 1
    response = forecast(forecaster, wells, apply="1", **OPTIONS)
    [message] = messages_of(response)
    assert "at most 1 in flight" in message
    assert not Calculation.objects.exists() and not LogEntry.objects.exists()


def test_a_staff_user_without_the_add_calculation_permission_cannot_forecast(wells):
    client = staff_client("view_well", "change_well")
    listing = client.get(CHANGELIST).content.decode()
    assert "Forecast the selected wells" not in listing
    response = forecast(client, wells, apply="1", **OPTIONS)
    assert response.status_code == 200 and not messages_of(response)  # the list, no action run
    assert not Calculation.objects.exists()


def test_a_wells_page_lists_its_forecasts_newest_first_with_status_and_eur(forecaster, wells):
    first, other = wells
    [done] = calculations_forecast_wells(
        ids=[first.pk], date_start="2015-01-01", date_fin="2030-12-31", lag=30
    )
    calculation_run(calculation_id=done.pk)
    done.refresh_from_db()
    [queued] = calculations_forecast_wells(
        ids=[first.pk], date_start="2015-01-01", date_fin="2030-12-31", lag=90
    )
    calculations_forecast_wells(ids=[other.pk], date_start="2015-01-01", date_fin="2030-12-31", lag=30)

    page = forecaster.get(f"{CHANGELIST}{first.pk}/change/").content.decode()
    table = page.split('class="cb-well-forecasts"')[1].split("</table>")[0]
    links = re.findall(r'href="/admin/calculations/calculation/(\d+)/change/"', table)
    assert links == [str(queued.pk), str(done.pk)]  # newest first; the other well's run is not here
    assert f"{done.forecast['eur']:,.0f}" in table and f"{done.forecast['remaining']:,.0f}" in table
    assert "Finished" in table and "Queued" in table and done.forecast["method"] in table


def test_the_forecasts_of_a_well_are_read_in_one_query(wells, django_assert_num_queries):
    for lag in (30, 60, 90):
        calculations_forecast_wells(
            ids=[wells[0].pk], date_start="2015-01-01", date_fin="2030-12-31", lag=lag
        )
    with django_assert_num_queries(1):
        runs = well_forecasts(well_id=wells[0].pk)
        assert [run.eur for run in runs] == [None, None, None]  # type: ignore[attr-defined]


def test_a_well_without_forecasts_says_how_to_make_one(forecaster, wells):
    page = forecaster.get(f"{CHANGELIST}{wells[0].pk}/change/").content.decode()
    assert "No forecasts yet" in page


def test_compare_shows_each_well_runs_eur_reserves_method_and_parameters(forecaster, wells):
    runs = calculations_forecast_wells(
        ids=[well.pk for well in wells], date_start="2015-01-01", date_fin="2030-12-31", lag=30
    )
    for run in runs:
        calculation_run(calculation_id=run.pk)
        run.refresh_from_db()
    ids = ",".join(str(run.pk) for run in runs)
    html = forecaster.get(f"/admin/calculations/calculation/compare/?ids={ids}").content.decode()
    table = html.split('id="cb-compare-forecasts"')[1].split("</table>")[0]
    rows = table.split("<tbody>")[1].split("</tr>")[:-1]
    assert len(rows) == 2
    for run, row in zip(runs, rows, strict=True):
        summary, parameters = run.forecast, run.forecast["parameters"]
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        assert run.name in cells[0]
        assert cells[1:] == [
            summary["method"],
            f"{summary['eur']:,.0f}",
            f"{summary['remaining']:,.0f}",
            f"{parameters['qi']:.2f}",
            f"{parameters['di_nominal']:.4f}",
            f"{parameters['di_secant_effective']:.4f}",
            f"{parameters['b']:.3f}",
        ]
