"""Well runs: POST /api/calculations with `well` and `model`, the run, and ?fields=forecast."""

from datetime import date, timedelta

import numpy as np
import pytest
from django.test import Client

from apps.calculations.forecast import engine
from apps.calculations.forecast.history import MIN_PRODUCING_POINTS, History
from apps.calculations.models import Calculation, CalculationRow
from apps.calculations.selectors import calculation_chart_source
from apps.calculations.services import (
    calculation_rerun,
    calculation_run,
    calculations_forecast_wells,
    forecast_options,
)
from apps.core.errors import DomainError
from apps.jobs.models import JobStatus
from apps.wells.models import ProductionRecord, Well
from apps.wells.services import well_create
from tests.calculations.conftest import body
from tests.calculations.forecast.synthetic import START, water_drive_well

URL = "/api/calculations"


def store_history(well: Well, history: History) -> None:
    ProductionRecord.objects.bulk_create(
        ProductionRecord(
            well=well,
            date=START + timedelta(days=int(day)),
            oil=float(oil),
            water=float(water),
            hours_on=float(on * 24),
        )
        for day, oil, water, on in zip(
            history.start, history.oil, history.water, history.on_days, strict=True
        )
    )


@pytest.fixture
def well(db) -> Well:
    well = well_create(name="W-7", field="West")
    store_history(well, water_drive_well(days=1500, seed=5))
    return well


def post(client: Client, payload: dict):
    return client.post(URL, payload, content_type="application/json")


def run_payload(well: Well, **model) -> dict:
    payload = {"date_start": "2015-01-01", "date_fin": "2024-12-31", "lag": 30, "well": well.pk}
    if model:
        payload["model"] = model
    return payload


def finished(client: Client, payload: dict) -> Calculation:
    response = post(client, payload)
    assert response.status_code == 201, response.content
    calculation_run(calculation_id=body(response)["id"])
    calculation = Calculation.objects.get(pk=body(response)["id"])
    assert calculation.status == JobStatus.FINISHED, calculation.error
    return calculation


def test_a_well_run_forecasts_the_well_and_returns_its_forecast(api_client, well):
    calculation = finished(api_client, run_payload(well, method="auto"))
    assert calculation.name.startswith("W-7: 2015-01-01 to 2024-12-31")
    detail = body(api_client.get(f"{URL}/{calculation.pk}?fields=forecast,summary"))
    forecast = detail["forecast"]
    assert forecast["well"] == well.pk and forecast["requested_method"] == "auto"
    assert forecast["method"] == "fractional_flow"
    assert forecast["eur"] > forecast["cum_oil_to_date"] > 0
    assert forecast["remaining"] == pytest.approx(forecast["eur"] - forecast["cum_oil_to_date"], abs=0.01)
    assert forecast["as_of"] == (START + timedelta(days=1499)).isoformat()
    assert forecast["uncertainty"]["resamples"] >= 200
    assert len(forecast["oil_rate_band"]["p10"]) == len(detail["result"])
    assert {c["name"] for c in forecast["selection"]["candidates"]} >= {"arps"}
    assert forecast["backtest"] is None
    rows = detail["result"]
    for row in rows:
        assert row["liquid"] > 0 and 0 <= row["oil"] <= row["liquid"]
        assert row["water"] == pytest.approx(row["liquid"] - row["oil"], abs=1e-9)
        assert row["wct"] == pytest.approx(row["water"] / row["liquid"], abs=5e-7 + 1e-12)
    assert len(rows) == CalculationRow.objects.filter(calculation=calculation).count() == 122


def test_the_run_stores_every_option_it_used(api_client, well):
    calculation = finished(api_client, run_payload(well, method="arps", b_max=1.0, fit_to="2018-06-30"))
    assert calculation.model == {
        "method": "arps",
        "fit_from": None,
        "fit_to": "2018-06-30",
        "recency_half_life_days": 365.0,
        "b_max": 1.0,
        "terminal_decline": 0.06,
        "economic_limit": 1.0,
        "uptime": None,
        "min_hours_on": 12.0,
    }
    forecast = body(api_client.get(f"{URL}/{calculation.pk}?fields=forecast"))["forecast"]
    assert forecast["backtest"]["held_out_from"] == "2018-07-01"
    assert forecast["parameters"]["b"] <= 1.0


def test_a_run_without_a_well_is_the_kernel_run_it_always_was(api_client, db):
    response = post(api_client, {"date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": 3})
    calculation_run(calculation_id=body(response)["id"])
    detail = body(api_client.get(f"{URL}/{body(response)['id']}?fields=forecast"))
    assert detail["forecast"] is None and len(detail["result"]) == 11


def test_the_same_well_run_twice_gives_the_same_numbers(api_client, well):
    first = finished(api_client, run_payload(well))
    second = Calculation.objects.get(pk=calculation_rerun(calculation_id=first.pk).pk)
    calculation_run(calculation_id=second.pk)
    second.refresh_from_db()
    assert second.well_id == well.pk and second.model == first.model
    assert second.forecast == first.forecast


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"model": {"method": "arps"}, "well": None}, "model", "requires_well"),
        ({"model": {"colour": "red"}}, "model.colour", "extra_forbidden"),
        ({"model": {"method": "cubic"}}, "model.method", "literal_error"),
        ({"model": {"fit_from": "2019-01-02", "fit_to": "2019-01-01"}}, "model.fit_to", "date_order"),
        ({"model": {"fit_from": "2019-13-01"}}, "model.fit_from", "date_invalid"),
        ({"model": {"b_max": 9}}, "model.b_max", "less_than_equal"),
        ({"model": {"terminal_decline": 1.5}}, "model.terminal_decline", "less_than"),
        ({"model": {"economic_limit": 0}}, "model.economic_limit", "greater_than"),
        ({"model": {"uptime": 0}}, "model.uptime", "greater_than"),
        ({"well": 987654}, "well", "not_found"),
        ({"well": "7"}, "well", "int_type"),
        ({"model": {"fit_from": "2019-02-01"}}, "model.fit_from", "too_little_history"),
    ],
)
def test_it_rejects_bad_well_runs_with_a_422_naming_the_field(api_client, well, change, field, rule):
    payload = {**run_payload(well), **change}
    payload = {key: value for key, value in payload.items() if value is not None}
    response = post(api_client, payload)
    assert response.status_code == 422, response.content
    errors = body(response)["errors"]
    assert [(e["field"], e["rule"]) for e in errors] == [(field, rule)]
    assert Calculation.objects.count() == 0


def test_a_well_with_too_little_history_says_how_many_points_it_has_and_needs(api_client, db):
    short = well_create(name="S-1", field="West")
    store_history(short, water_drive_well(days=8, seed=1))
    response = post(api_client, run_payload(short))
    assert response.status_code == 422
    error = body(response)["errors"][0]
    assert (error["field"], error["rule"]) == ("well", "too_little_history")
    assert "producing points in the fit window" in error["message"]
    assert f"{MIN_PRODUCING_POINTS} needed" in error["message"]
    empty = well_create(name="E-1", field="West")
    error = body(post(api_client, run_payload(empty)))["errors"][0]
    assert (error["field"], error["rule"]) == ("well", "too_little_history")


def test_a_well_run_whose_well_was_deleted_fails_with_a_reason(api_client, well):
    created = body(post(api_client, run_payload(well)))
    ProductionRecord.objects.filter(well=well).delete()
    Calculation.objects.filter(pk=created["id"]).update(well=None)
    failed = calculation_run(calculation_id=created["id"])
    assert failed.status == JobStatus.FAILED
    assert "well was deleted" in failed.error


def test_a_well_run_whose_history_vanished_fails_with_a_reason(api_client, well):
    created = body(post(api_client, run_payload(well)))
    ProductionRecord.objects.filter(well=well).delete()
    failed = calculation_run(calculation_id=created["id"])
    assert failed.status == JobStatus.FAILED and "no production history" in failed.error
    assert not CalculationRow.objects.filter(calculation_id=created["id"]).exists()


def test_monthly_history_is_read_with_days_on(api_client, db):
    monthly = well_create(name="M-9", field="West", frequency="monthly")
    months = [date(2010 + i // 12, 1 + i % 12, 1) for i in range(60)]
    rates = 100 * np.exp(-0.03 * np.arange(60))
    ProductionRecord.objects.bulk_create(
        ProductionRecord(well=monthly, date=d, oil=float(r * 28), water=float(r * 28 * 0.2), days_on=28.0)
        for d, r in zip(months, rates, strict=True)
    )
    calculation = finished(api_client, {**run_payload(monthly, method="arps"), "date_start": "2010-01-01"})
    forecast = body(api_client.get(f"{URL}/{calculation.pk}?fields=forecast"))["forecast"]
    assert forecast["parameters"]["qi"] == pytest.approx(100, rel=0.05)
    assert forecast["uptime"] == pytest.approx(28 / 30.4, rel=0.02)


@pytest.mark.parametrize(
    ("model", "field", "rule"),
    [
        ({"colour": "red"}, "model.colour", "unknown_key"),
        ({"b_max": "1"}, "model.b_max", "number_type"),
        ({"uptime": True}, "model.uptime", "number_type"),
        ({"b_max": 7.0}, "model.b_max", "range"),
        ({"method": "cubic"}, "model.method", "choice"),
        ({"fit_to": "30.06.2020"}, "model.fit_to", "date_format"),
    ],
)
def test_the_service_checks_model_options_for_every_caller(model, field, rule):
    with pytest.raises(DomainError) as error:
        forecast_options(model=model)
    assert [(e.field, e.rule) for e in error.value.errors] == [(field, rule)]


def test_options_left_null_take_their_defaults():
    assert forecast_options(model={"b_max": None, "method": "arps"}) == engine.Options(method="arps")


def test_many_wells_are_forecast_at_once_one_run_each(api_client, well):
    other = well_create(name="W-8", field="West")
    store_history(other, water_drive_well(days=900, seed=6))
    response = api_client.post(
        "/api/wells/forecast",
        {
            "ids": [other.pk, well.pk],
            "date_start": "2015-01-01",
            "date_fin": "2030-12-31",
            "lag": 30,
            "model": {"method": "arps"},
        },
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    ids = body(response)["ids"]
    runs = [Calculation.objects.get(pk=pk) for pk in ids]
    assert [run.well_id for run in runs] == [other.pk, well.pk]
    assert all(run.status == JobStatus.QUEUED and run.model["method"] == "arps" for run in runs)
    for pk in ids:
        assert calculation_run(calculation_id=pk).status == JobStatus.FINISHED


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"ids": []}, "ids", "too_short"),
        ({"ids": ["1"]}, "ids.0", "int_type"),
        ({"ids": "well"}, "ids", "list_type"),
        ({"model": {"b_max": -1}}, "model.b_max", "greater_than_equal"),
        ({"colour": "red"}, "colour", "extra_forbidden"),
    ],
)
def test_a_bad_batch_is_a_422_naming_the_field(api_client, well, change, field, rule):
    payload = {"ids": [well.pk], "date_start": "2015-01-01", "date_fin": "2030-12-31", "lag": 30, **change}
    response = api_client.post("/api/wells/forecast", payload, content_type="application/json")
    assert response.status_code == 422
    assert [(e["field"], e["rule"]) for e in body(response)["errors"]] == [(field, rule)]


def test_a_batch_with_one_bad_well_queues_nothing_and_names_it(api_client, well):
    empty = well_create(name="E-2", field="West")
    for ids, field, rule in [
        ([well.pk, empty.pk], "ids.1", "too_little_history"),
        ([well.pk, 99999], "ids.1", "not_found"),
        ([well.pk, well.pk], "ids", "unique"),
    ]:
        payload = {"ids": ids, "date_start": "2015-01-01", "date_fin": "2030-12-31", "lag": 30}
        response = api_client.post("/api/wells/forecast", payload, content_type="application/json")
        assert response.status_code == 422
        assert [(e["field"], e["rule"]) for e in body(response)["errors"]] == [(field, rule)]
    assert Calculation.objects.count() == 0


def test_a_batch_names_a_bad_model_option_by_its_key(db, well):
    with pytest.raises(DomainError) as error:
        calculations_forecast_wells(
            ids=[well.pk],
            date_start="2015-01-01",
            date_fin="2030-12-31",
            lag=30,
            model={"fit_from": "2020-01-02", "fit_to": "2020-01-01"},
        )
    assert [(e.field, e.rule) for e in error.value.errors] == [("model.fit_to", "date_order")]


def test_the_chart_of_a_well_run_shows_its_history_and_band(api_client, export_server, well):
    calculation = finished(api_client, run_payload(well))
    response = api_client.get(f"{URL}/{calculation.pk}/chart.svg")
    assert response.status_code == 200, response.content[:300]
    text = response.content.decode()
    for legend in ("Oil history", "Water history", "Oil P10-P90", "Oil, m³/day", "Water cut, %"):
        assert legend in text
    assert 'class="highcharts-arearange-series' in text or "highcharts-arearange-series" in text
    assert api_client.get(f"{URL}/{calculation.pk}/chart.png").status_code == 200


def test_the_chart_source_of_a_well_run_carries_monthly_history_and_the_band_per_row(api_client, well):
    calculation = finished(api_client, run_payload(well))
    source = calculation_chart_source(calculation_id=calculation.pk)
    assert len(source.history["oil"]) == 50  # 1,500 days from 2015-01-01: 50 months
    _first_ms, first_rate = source.history["oil"][0]
    january = sum(r.oil for r in ProductionRecord.objects.filter(well=well, date__lt=date(2015, 2, 1)))
    assert first_rate == pytest.approx(january / 31, rel=1e-5)
    assert len(source.band) == len(source.series["oil"])
    assert all(low <= high for _, low, high in source.band)
